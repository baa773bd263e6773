import { defineConfig } from 'vitest/config';

// `npm run soak`: the full-size reliability runs (not in CI). One file at a time; each writes
// its figures to soak/results/.parts/, merged by scripts/soak-report.mjs.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default'],
  },
});
