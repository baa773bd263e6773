// Black-box: the restart policy with pm2's meaning (issue 17.2). Online at spawn; a crash is
// restarted at once by default and a crash loop ends errored after 15 restarts; restart_delay is
// fixed; exp_backoff_restart_delay grows x1.5; stop_exit_codes and autorestart off stay stopped.
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

/** A run that records when it started (ms) in file, then ends with code. */
function recordingCrash(file: string, code = 3): string {
  return `node -e 'require("fs").appendFileSync(process.argv[1], Date.now() + "\\n")' ${file}; exit ${code}`;
}

describe('restart policy (pm2)', () => {
  it('is online at spawn and restarts a killed run at once (no delay by default)', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService({ name: 'victim', cmd: ['sleep', '30'] });
    expect(s.status).toBe('online');
    process.kill(s.pid, 'SIGKILL');
    const again = await waitFor(async () => {
      const now = await daemon!.client.describeService('victim');
      return now.pid !== 0 && now.pid !== s.pid ? now : null;
    }, 'a new run');
    expect(again.status).toBe('online');
    expect(again.restartCount).toBe(1);
    expect(again.backoffMs).toBe(0);
    expect(again.lastExitCode).toBe(137);
    expect(again.unstableRestarts).toBeLessThanOrEqual(1); // 1 unless the kill came after min_uptime (1 s)
  });

  it('ends a crash loop errored after 15 restarts by default (max_restarts 16 unstable exits)', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'starts.txt');
    await daemon.client.startService({ name: 'crashy', cmd: ['sh', '-c', recordingCrash(file)] });
    const errored = await waitStatus(daemon.client, 'crashy', 'errored', 30_000);
    expect(errored.restartCount).toBe(15);
    expect(errored.unstableRestarts).toBe(0); // pm2 jlist shows 0 once errored; the reason keeps the count
    expect(errored.lastError).toContain('exited 16 times in a row');
    expect(errored.lastExitCode).toBe(3);
    expect(errored.pid).toBe(0);
    expect(errored.lastError).toContain('max_restarts 16');
    expect(startTimes(file)).toHaveLength(16);
    expect((await daemon.client.describeService('crashy')).status).toBe('errored');
  });

  it('keeps restart_delay fixed and honours a smaller max_restarts', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'starts.txt');
    await daemon.client.startService(shService('fixed', recordingCrash(file), { restartDelayMs: 150, minUptimeMs: 5000, maxRestarts: 4 }));
    const errored = await waitStatus(daemon.client, 'fixed', 'errored');
    expect(errored.restartCount).toBe(3);
    expect(errored.backoffMs).toBe(150);
    const starts = startTimes(file);
    expect(starts).toHaveLength(4);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(150);
  });

  it('grows exp_backoff_restart_delay x1.5 from its starting value', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'starts.txt');
    await daemon.client.startService(shService('exp', recordingCrash(file), { restartDelayMs: 0, expBackoffRestartDelayMs: 100, minUptimeMs: 5000, maxRestarts: 4 }));
    const errored = await waitStatus(daemon.client, 'exp', 'errored');
    expect(errored.restartCount).toBe(3);
    expect(errored.backoffMs).toBe(225);
    const starts = startTimes(file);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    [100, 150, 225].forEach((delay, i) => expect(gaps[i]).toBeGreaterThanOrEqual(delay));
  });

  it('starts the unstable count again after a run that outlived min_uptime', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'runs.txt');
    await daemon.client.startService(shService('steady', `echo run >> ${file}; sleep 0.3; exit 1`, { restartDelayMs: 20, minUptimeMs: 100, maxRestarts: 1 }));
    await waitFor(() => startTimes(file).length >= 4, 'four runs', 15_000);
    const s = await daemon.client.describeService('steady');
    expect(s.status).not.toBe('errored');
    expect(s.restartCount).toBeGreaterThanOrEqual(3);
    expect(s.unstableRestarts).toBe(0);
    expect(s.backoffMs).toBe(20);
  });

  it('leaves the service stopped after an exit code in stop_exit_codes, restarts on others', async () => {
    daemon = await startDaemon();
    const marker = path.join(daemon.home, 'second-run');
    // First run exits 1 (restarted), the second exits 42 (in stop_exit_codes: stays stopped).
    await daemon.client.startService(shService('codes', `if [ -e ${marker} ]; then exit 42; fi; touch ${marker}; exit 1`, { restartDelayMs: 0, stopExitCodes: [0, 42] }));
    const stopped = await waitStatus(daemon.client, 'codes', 'stopped');
    expect(stopped.lastExitCode).toBe(42);
    expect(stopped.restartCount).toBe(1);
  });

  it('leaves an autorestart=false service stopped when it exits', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService(shService('once', 'sleep 0.2; exit 0', { autorestart: false }));
    expect(s.status).toBe('online');
    const done = await waitStatus(daemon.client, 'once', 'stopped');
    expect(done.restartCount).toBe(0);
    expect(done.lastExitCode).toBe(0);
    expect(done.lastExitedAt).toBeGreaterThanOrEqual(done.lastStartedAt);
  });

  it('shows waiting during a restart_delay, and a stop cancels the pending restart', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService(shService('victim', 'exec sleep 30', { restartDelayMs: 3000 }));
    process.kill(s.pid, 'SIGKILL');
    const waiting = await waitStatus(daemon.client, 'victim', 'waiting');
    expect(waiting.lastExitCode).toBe(137);
    expect(waiting.backoffMs).toBe(3000);
    expect(waiting.pid).toBe(0);
    expect(await daemon.client.stopService('victim')).toBe(1);
    expect((await daemon.client.describeService('victim')).status).toBe('stopped');
  });
});
