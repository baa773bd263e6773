// Wire fuzzing, CI size: 5,000 inputs (random bytes, truncated frames, oversize lengths, mutated
// envelopes of every request type in the proto, stream requests with random input frames) over
// many concurrent connections. The daemon must not crash, must keep answering another client,
// must answer every complete frame with a status code, and its RSS must stay bounded.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { describeFigures, runWireFuzz } from './fuzz-run';
import { ALL_TYPES, EXCLUDED_TYPES, UNARY_TYPES, STREAM_TYPES } from './fuzz-gen';
import { RequestType } from '../../src/wire/proto';

const MAX_FRAME_BYTES = 64 * 1024;

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('wire fuzzing', () => {
  it('covers every request type of the proto except SHUTDOWN and SPAWN_DAEMON', () => {
    expect(UNARY_TYPES.length + STREAM_TYPES.size + EXCLUDED_TYPES.size).toBe(ALL_TYPES.length);
    expect(UNARY_TYPES).not.toContain(RequestType.REQUEST_TYPE_SHUTDOWN);
    expect(UNARY_TYPES).toContain(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION);
    expect(UNARY_TYPES).toContain(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE);
  });

  it('survives 5,000 fuzzed inputs, answering every frame and never stalling another client', async () => {
    daemon = await startDaemon({ args: ['--max-frame-bytes', String(MAX_FRAME_BYTES)] });
    const scratchDir = path.join(daemon.home, 'scratch');
    fs.mkdirSync(scratchDir);
    const seed = Number(process.env.RUNPM_FUZZ_SEED ?? Date.now() % 1_000_000);
    const figures = await runWireFuzz(daemon, {
      inputs: 5000, framesPerConnection: 25, connectionsPerBatch: 8, seed, deadlineMs: 10_000,
      maxFrameBytes: MAX_FRAME_BYTES, scratchDir,
    });
    console.log(describeFigures(figures));
    expect(figures.inputs).toBeGreaterThanOrEqual(5000);
    expect(figures.responses).toBeGreaterThanOrEqual(figures.framesExpected);
    expect(figures.watchdogPings).toBeGreaterThan(0);
    expect(figures.internal, `INTERNAL answers (seed ${seed}): a handler threw instead of validating`).toEqual([]);
    // Generous: a leak of a few bytes per input would not show, a per-connection leak would.
    expect(figures.rssAfterBytes - figures.rssBeforeBytes).toBeLessThan(96 * 1024 * 1024);
    // Every fuzzed connection is gone again: only the test's own client remains.
    await waitFor(async () => (await daemon!.client.status()).activeConnections === 1, 'fuzzed connections to be released');
  });
});
