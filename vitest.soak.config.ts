import { defineConfig } from 'vitest/config';

// `npm run soak`: long repetitions of races (e.g. PTY tail loss), kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
