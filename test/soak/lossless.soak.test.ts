// Soak (issue 15.5): `runpm output ID --follow | sha256sum` of a 50 MB cat equals the file's hash,
// RUNPM_LOSSLESS_RUNS runs (default 10). npm test runs 3 (test/sessions/lossless-flow.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { followHashRuns } from '../sessions/follow-hash';

const RUNS = Number(process.env.RUNPM_LOSSLESS_RUNS ?? 10);
let daemon: TestDaemon | null = null;
afterAll(async () => {
  await daemon?.stop();
});

describe('lossless follow soak', () => {
  it(`50 MB through runpm output --follow | sha256sum: the same hash in ${RUNS} of ${RUNS} runs`, async () => {
    daemon = await startDaemon();
    const times = await followHashRuns(daemon, RUNS);
    expect(times).toHaveLength(RUNS);
    console.log(`lossless follow: ${RUNS} runs of 50 MiB, ms per run: ${times.join(', ')}`);
  });
});
