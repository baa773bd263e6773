// Soak: 100,000 fuzzed wire inputs (RUNPM_SOAK_FUZZ_INPUTS to change) against one daemon with a
// 1 MiB frame limit, with the same checks as the CI fuzz test; figures go to the soak report.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeFigures, runWireFuzz } from '../reliability/fuzz-run';
import { soakSize, writeSoakPart } from './soak-figures';

const MAX_FRAME_BYTES = 1024 * 1024;

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('soak: wire fuzzing', () => {
  it('survives 100,000 fuzzed inputs', async () => {
    daemon = await startDaemon({ args: ['--max-frame-bytes', String(MAX_FRAME_BYTES)] });
    const scratchDir = path.join(daemon.home, 'scratch');
    fs.mkdirSync(scratchDir);
    const seed = Number(process.env.RUNPM_FUZZ_SEED ?? Date.now() % 1_000_000);
    const figures = await runWireFuzz(daemon, {
      inputs: soakSize('RUNPM_SOAK_FUZZ_INPUTS', 100_000), framesPerConnection: 25, connectionsPerBatch: 16, seed,
      deadlineMs: 20_000, maxFrameBytes: MAX_FRAME_BYTES, scratchDir,
    });
    console.log(describeFigures(figures));
    writeSoakPart('fuzz', { ...figures, maxFrameBytes: MAX_FRAME_BYTES, daemonAlive: true });
    expect(figures.internal).toEqual([]);
    expect(figures.responses).toBeGreaterThanOrEqual(figures.framesExpected);
    expect(figures.rssAfterBytes - figures.rssBeforeBytes).toBeLessThan(256 * 1024 * 1024);
  });
});
