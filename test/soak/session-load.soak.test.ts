// Soak: 500 live perl sessions printing a line every 100 ms, 50 read by clients, one attached by
// a client that never reads while its session bursts 4 MiB (RUNPM_SOAK_SESSIONS / _ATTACHED to
// change); rates with and without the stuck client, RSS against the bound from --ring-bytes.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeSessionLoad, runSessionLoad } from '../reliability/session-load-run';
import { soakSize, writeSoakPart } from './soak-figures';

const RING_BYTES = 65536;

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('soak: session load', () => {
  it('holds 500 sessions, 50 read and 1 stuck', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(RING_BYTES)] });
    const f = await runSessionLoad(daemon, {
      sessions: soakSize('RUNPM_SOAK_SESSIONS', 500), attached: soakSize('RUNPM_SOAK_ATTACHED', 50),
      intervalMs: 100, requesters: 4, windowLines: 50, ringBytes: RING_BYTES,
    });
    console.log(describeSessionLoad(f));
    writeSoakPart('sessions', f);
    expect(f.requestsFailed).toBe(0);
    expect(f.requestsAnswered).toBe(f.requestsSent);
    expect(f.stuckMissedBytes).toBeGreaterThan(0);
    expect(f.withStuck.stuckSession).toBeGreaterThanOrEqual(0.5 * f.withStuck.siblingsMedian);
    expect(f.rssPeakBytes).toBeLessThan(f.rssBoundBytes);
    expect(f.sessionsLeft).toBe(0);
  });
});
