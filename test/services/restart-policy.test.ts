// Black-box: the restart policy. A crash loop backs off with doubling delays and ends errored
// after max_restarts; runs longer than min_uptime reset the count; autorestart off stays stopped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService, waitStatus } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function startTimes(file: string): number[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

describe('restart policy', () => {
  it('backs off with doubling delays and marks a crash loop errored after max_restarts', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'starts.txt');
    // Each run records when it started (ms) and crashes at once.
    const script = `node -e 'require("fs").appendFileSync(process.argv[1], Date.now() + "\\n")' ${file}; exit 3`;
    await daemon.client.startService(shService('crashy', script, { restartDelayMs: 40, minUptimeMs: 5000, maxRestarts: 3 }));
    const errored = await waitStatus(daemon.client, 'crashy', 'errored');
    expect(errored.restartCount).toBe(3);
    expect(errored.unstableRestarts).toBe(4);
    expect(errored.lastExitCode).toBe(3);
    expect(errored.pid).toBe(0);
    expect(errored.backoffMs).toBe(160);
    expect(errored.lastError).toContain('max_restarts');
    const starts = startTimes(file);
    expect(starts).toHaveLength(4);
    // Gaps between runs are at least the scheduled delays 40, 80, 160 (base doubling per quick crash).
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(40 * 2 ** i));
    // Errored stays errored: no further run appears.
    expect((await daemon.client.describeService('crashy')).status).toBe('errored');
  });

  it('resets the crash count after a run that outlived min_uptime', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'runs.txt');
    // Every run lives 300 ms (> min_uptime 100 ms) and then fails: never errored despite max_restarts 1.
    await daemon.client.startService(shService('steady', `echo run >> ${file}; sleep 0.3; exit 1`, { restartDelayMs: 20, minUptimeMs: 100, maxRestarts: 1 }));
    await waitFor(() => startTimes(file).length >= 4, 'four runs', 15_000);
    const s = await daemon.client.describeService('steady');
    expect(s.status).not.toBe('errored');
    expect(s.restartCount).toBeGreaterThanOrEqual(3);
    expect(s.unstableRestarts).toBe(0);
    expect(s.backoffMs).toBe(20);
    expect(s.lastExitCode).toBe(1);
  });

  it('passes starting → online after min_uptime and leaves an autorestart=false service stopped when it exits', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService(shService('once', 'sleep 0.4; exit 0', { autorestart: false, minUptimeMs: 100 }));
    expect(s.status).toBe('starting');
    await waitStatus(daemon.client, 'once', 'online');
    const done = await waitStatus(daemon.client, 'once', 'stopped');
    expect(done.restartCount).toBe(0);
    expect(done.lastExitCode).toBe(0);
    expect(done.lastExitedAt).toBeGreaterThanOrEqual(done.lastStartedAt);
  });

  it('records a signal death as 128 + signal number and shows waiting during the backoff', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService(shService('victim', 'exec sleep 30', { restartDelayMs: 3000 }));
    process.kill(s.pid, 'SIGKILL');
    const waiting = await waitStatus(daemon.client, 'victim', 'waiting');
    expect(waiting.lastExitCode).toBe(137);
    expect(waiting.backoffMs).toBe(3000);
    expect(waiting.pid).toBe(0);
    // Stopping a waiting service cancels the pending restart.
    expect(await daemon.client.stopService('victim')).toBe(1);
    expect((await daemon.client.describeService('victim')).status).toBe('stopped');
  });
});
