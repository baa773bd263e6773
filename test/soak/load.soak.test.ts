// Soak: 64 clients × 1,000 requests concurrently, then 10,000 connect/disconnect cycles with the
// daemon's fd count before and after (RUNPM_SOAK_CLIENTS / _REQUESTS / _CYCLES to change).
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { describeLoad, runLoad } from '../reliability/load-run';
import { soakSize, writeSoakPart } from './soak-figures';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('soak: load', () => {
  it('answers 64 × 1,000 concurrent requests and keeps no fd after 10,000 cycles', async () => {
    daemon = await startDaemon();
    const figures = await runLoad(daemon, {
      clients: soakSize('RUNPM_SOAK_CLIENTS', 64), requestsPerClient: soakSize('RUNPM_SOAK_REQUESTS', 1000),
      window: 8, cycles: soakSize('RUNPM_SOAK_CYCLES', 10_000),
    });
    console.log(describeLoad(figures));
    writeSoakPart('load', figures);
    expect(figures.requestsAnswered).toBe(figures.requestsSent);
    expect(figures.fdAfter - figures.fdBefore).toBeLessThanOrEqual(4);
    expect(figures.rssAfterBytes - figures.rssBeforeBytes).toBeLessThan(256 * 1024 * 1024);
  });
});
