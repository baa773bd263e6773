// Load with live sessions, CI size: 60 perl sessions printing a line every 50 ms, 10 of them read
// by clients, one attached by a client that never reads while its session bursts 4 MiB. Every
// request is answered, the stuck client's session keeps its siblings' pace (the burst completes;
// it is told what it missed), daemon RSS stays under a bound computed from --ring-bytes.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeSessionLoad, runSessionLoad, BURST_BYTES } from './session-load-run';

const RING_BYTES = 65536;

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('session load', () => {
  it('holds 60 sessions, 10 read and 1 stuck: requests answered, no session slowed, RSS bounded, all cleaned up', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(RING_BYTES)] });
    const f = await runSessionLoad(daemon, { sessions: 60, attached: 10, intervalMs: 50, requesters: 2, windowLines: 20, ringBytes: RING_BYTES });
    console.log(describeSessionLoad(f));
    expect(f.requestsFailed).toBe(0);
    expect(f.requestsAnswered).toBe(f.requestsSent);
    expect(f.requestsSent).toBeGreaterThan(0);
    expect(f.readerBytes).toBeGreaterThan(0);
    // The stuck client really fell behind: it got a fraction of the burst and a missed_bytes count.
    expect(f.stuckMissedBytes).toBeGreaterThan(0);
    expect(f.stuckReceivedBytes).toBeLessThan(BURST_BYTES);
    // Relative progress, not speed: the stuck-attached child keeps at least half its siblings' median pace.
    expect(f.withStuck.stuckSession).toBeGreaterThanOrEqual(0.5 * f.withStuck.siblingsMedian);
    expect(f.withStuck.siblingsMin).toBeGreaterThanOrEqual(0.5 * f.withoutStuck.siblingsMedian);
    expect(f.rssPeakBytes).toBeLessThan(f.rssBoundBytes);
    expect(f.sessionsLeft).toBe(0);
  });
});
