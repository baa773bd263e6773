// Soak: the memory probes of the per-connection bounds at the sizes of the report (issue 22):
// GET_SESSION_BACKLOG pipelined 20,000 times and never read, 200 connections trickling 4 MiB
// frames, 200 × 1,000 pipelined requests never read, 500 half length prefixes, 500 clients at the
// fd limit (none reset)
// (RUNPM_SOAK_BOUNDS_CONNECTIONS / _REQUESTS to shrink a local run).
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeProbe, probeBacklogPipeline, probeFdCrowd, probeHalfPrefixes, probePipelinedRequests, probeTrickledFrames } from '../reliability/bounds-run';
import { isReducedSize, soakSize, writeSoakPart } from './soak-figures';

const MiB = 1024 * 1024;
let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('soak: connection bounds', () => {
  it('keeps RSS within the documented bounds under the four floods, and gives memory back', async () => {
    daemon = await startDaemon();
    const connections = soakSize('RUNPM_SOAK_BOUNDS_CONNECTIONS', 200);
    const backlogRequests = soakSize('RUNPM_SOAK_BOUNDS_REQUESTS', 20_000);
    const backlog = await probeBacklogPipeline(daemon, { requests: backlogRequests, ringBytes: MiB });
    const trickle = await probeTrickledFrames(daemon, { connections, bodyBytes: 4 * MiB - 1 });
    const pipelined = await probePipelinedRequests(daemon, { connections, requests: 1000 });
    const half = await probeHalfPrefixes(daemon, { connections: Math.max(500, connections) });
    for (const f of [backlog, trickle, pipelined, half]) console.log(describeProbe(f));
    // Last: the crowd lowers this daemon's fd limit.
    const crowd = await probeFdCrowd(daemon, { clients: Math.max(500, connections), batch: 8, headroom: 24 });
    console.log(`crowd at fd limit ${crowd.limit}: ${JSON.stringify(crowd.outcomes)}`);
    writeSoakPart('bounds', {
      reducedSize: isReducedSize('RUNPM_SOAK_BOUNDS_CONNECTIONS', 'RUNPM_SOAK_BOUNDS_REQUESTS'),
      backlogRequests, backlog, trickle, pipelined, half, crowd,
    });
    expect(backlog.rssPeakBytes - backlog.rssBeforeBytes).toBeLessThan(64 * MiB);
    // The 64 MiB partial-frame budget + one 64 KiB read per connection.
    expect(trickle.rssPeakBytes - trickle.rssBeforeBytes).toBeLessThan(64 * MiB + connections * 64 * 1024 + 64 * MiB);
    expect(half.closedByDaemon).toBe(half.connections);
    expect(crowd.reset, JSON.stringify(crowd.outcomes)).toBe(0);
  });
});
