// Load, CI size: 16 clients × 250 requests concurrently, every one answered; then 1,000
// connect/disconnect cycles leave the daemon's fd count where it was (a small constant allowed).
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeLoad, runLoad } from './load-run';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('load', () => {
  it('answers 16 × 250 concurrent requests and keeps no fd after 1,000 connect/disconnect cycles', async () => {
    daemon = await startDaemon();
    const figures = await runLoad(daemon, { clients: 16, requestsPerClient: 250, window: 8, cycles: 1000 });
    console.log(describeLoad(figures));
    expect(figures.requestsAnswered).toBe(figures.requestsSent);
    expect(figures.cycles).toBe(1000);
    expect(figures.fdAfter - figures.fdBefore).toBeLessThanOrEqual(4);
    expect(figures.rssAfterBytes - figures.rssBeforeBytes).toBeLessThan(96 * 1024 * 1024);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });
});
