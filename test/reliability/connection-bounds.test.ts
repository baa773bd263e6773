// Per-connection bounds, black-box at CI size (the soak runs the report's sizes): pipelined
// backlog requests that are never read, trickled 4 MiB frames, pipelined requests on many
// connections, and a flood of half length prefixes: the daemon's RSS stays within the documented
// bound, a normal client is served meanwhile, and the memory is given back once they close.
import { afterEach, describe, expect, it } from 'vitest';
import { RequestType, StatusCode } from '../../src/wire/proto';
import { RawConnection } from '../helpers/raw';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { describeProbe, probeBacklogPipeline, probeHalfPrefixes, probePipelinedRequests, probeTrickledFrames } from './bounds-run';

const MiB = 1024 * 1024;
let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('connection bounds', () => {
  it('a client pipelining GET_SESSION_BACKLOG of a full 1 MiB ring and never reading costs the daemon a few MiB, given back on close', async () => {
    daemon = await startDaemon();
    const f = await probeBacklogPipeline(daemon, { requests: 20_000, ringBytes: MiB });
    console.log(describeProbe(f));
    // Bound: the response budget (256 KiB) + one answer (1 MiB) + 64 queued requests + a read.
    expect(f.rssPeakBytes - f.rssBeforeBytes).toBeLessThan(48 * MiB);
    expect(f.rssAfterBytes - f.rssBeforeBytes).toBeLessThan(32 * MiB);
  });

  it('connections trickling 4 MiB frames hold at most the partial-frame budget together', async () => {
    daemon = await startDaemon({ args: ['--partial-frame-budget-bytes', String(16 * MiB)] });
    const f = await probeTrickledFrames(daemon, { connections: 40, bodyBytes: 2 * MiB });
    console.log(describeProbe(f));
    // 80 MiB sent; bound: the 16 MiB budget + one 64 KiB read per connection (+ allocator slack).
    expect(f.rssPeakBytes - f.rssBeforeBytes).toBeLessThan(56 * MiB);
    expect(f.rssAfterBytes - f.rssBeforeBytes).toBeLessThan(32 * MiB);
  });

  it('connections pipelining 1,000 requests each without reading stay bounded', async () => {
    daemon = await startDaemon();
    const f = await probePipelinedRequests(daemon, { connections: 50, requests: 1000 });
    console.log(describeProbe(f));
    expect(f.rssPeakBytes - f.rssBeforeBytes).toBeLessThan(64 * MiB);
    // N.B. what stays after the connections closed is not given back at once (about 40 MiB here,
    // more after a second flood): the bound checked is the one documented, not a full return.
    expect(f.rssAfterBytes - f.rssBeforeBytes).toBeLessThan(64 * MiB);
  });

  it('500 connections sending 3 bytes of a length prefix do not lock a normal client out, and are closed by the daemon', async () => {
    daemon = await startDaemon({ args: ['--frame-deadline-ms', '1500'] });
    const f = await probeHalfPrefixes(daemon, { connections: 500 });
    console.log(`${describeProbe(f)}; all ${f.closedByDaemon} closed by the daemon within ${f.closedAfterMs.toFixed(0)} ms (deadline 1500 ms)`);
    expect(f.closedByDaemon).toBe(500);
    expect(f.rssAfterBytes - f.rssBeforeBytes).toBeLessThan(32 * MiB);
  });

  it('an incomplete frame held past the deadline is answered with the reason and closed; complete frames are still answered first', async () => {
    daemon = await startDaemon({ args: ['--frame-deadline-ms', '300'] });
    const raw = await RawConnection.open(daemon.paths.socketPath);
    raw.sendRequest({ id: 7, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    raw.sendBytes(Buffer.from([0, 0, 1, 0, 1, 2]));
    const started = performance.now();
    const responses = await raw.waitResponses(2);
    await raw.waitClosed();
    console.log(`closed ${(performance.now() - started).toFixed(0)} ms after the partial frame (deadline 300 ms)`);
    expect(responses[0].code).toBe(StatusCode.STATUS_CODE_OK);
    expect(responses[1].code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(responses[1].message).toMatch(/incomplete frame: 6 bytes of a frame were held for 300 ms without the rest/);
    await waitFor(async () => (await daemon!.client.status()).activeConnections === 1, 'the connection to be released');
  });
});
