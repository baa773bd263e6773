// Black-box: pm2's per-service controls on the daemon side (issue 17.2): pid_file, reset,
// sendSignal, kill_signal (SIGINT by default), and targets read as pm2 reads them (id first,
// then name, then namespace).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StatusCode } from '../../src/wire/proto';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService, waitStatus } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** The status code a rejected call carries. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error('expected the call to fail');
}

describe('pm2 controls', () => {
  it('writes pid_file (with -<id> before .pid, as pm2) while a run lives and removes it after', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('first', 'exec sleep 30'));
    const s = await c.startService(shService('web', 'exec sleep 30', { pidFile: 'run/web.pid', cwd: daemon.home }));
    fs.mkdirSync(path.join(daemon.home, 'run'), { recursive: true });
    // The directory did not exist at the first spawn: said, and written at the next run.
    expect(s.lastError).toContain('cannot write pid_file');
    await c.restartService('web');
    const now = await c.describeService('web');
    const file = path.join(daemon.home, 'run', 'web-1.pid');
    expect(now.pidFilePath).toBe(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(String(now.pid));
    expect(now.lastError).toBe('');
    process.kill(now.pid, 'SIGKILL');
    const next = await waitFor(async () => {
      const d = await c.describeService('web');
      return d.pid !== 0 && d.pid !== now.pid ? d : null;
    }, 'the restarted run');
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === String(next.pid), 'the new pid in the pid file');
    await c.stopService('web');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reset sets restart counters back to 0', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('r', 'exec sleep 30'));
    await c.restartService('r');
    await c.restartService('r');
    expect((await c.describeService('r')).restartCount).toBe(2);
    expect(await c.resetService('r')).toBe(1);
    const after = await c.describeService('r');
    expect(after.restartCount).toBe(0);
    expect(after.unstableRestarts).toBe(0);
    expect(after.status).toBe('online');
    expect(await codeOf(c.resetService('ghost'))).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
  });

  it('sendSignal delivers a signal to the running main process; a bad signal or a stopped service is refused', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const got = path.join(daemon.home, 'got-usr2');
    await c.startService(shService('sig', `trap 'echo usr2 >> ${got}' USR2; while true; do sleep 0.05; done`));
    expect(await c.signalService('sig', 'SIGUSR2')).toBe(1);
    await waitFor(() => fs.existsSync(got), 'the trap to run');
    expect(await c.signalService('sig', '12')).toBe(1); // SIGUSR2 by number on Linux
    await waitFor(() => fs.readFileSync(got, 'utf8') === 'usr2\nusr2\n', 'the second trap');
    expect((await c.describeService('sig')).status).toBe('online');
    expect(await codeOf(c.signalService('sig', 'SIGNOPE'))).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    await c.stopService('sig');
    expect(await codeOf(c.signalService('sig', 'SIGUSR2'))).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
  });

  it('stops with SIGINT by default (pm2) and with kill_signal when given', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const file = path.join(daemon.home, 'signals');
    const script = (tag: string) => `trap 'echo ${tag}-INT >> ${file}; exit 0' INT; trap 'echo ${tag}-TERM >> ${file}; exit 0' TERM; while true; do sleep 0.05; done`;
    await c.startService(shService('dflt', script('dflt')));
    await c.startService(shService('term', script('term'), { killSignal: 'SIGTERM' }));
    await c.stopService('dflt');
    await c.stopService('term');
    expect(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['dflt-INT', 'term-TERM']);
    expect(await codeOf(c.startService(shService('bad', 'true', { killSignal: 'SIGWHAT' })))).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
  });

  it('reads a number as an id first, then a name, then a namespace', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('a', 'exec sleep 30', { namespace: 'api' })); // id 0
    await c.startService(shService('0', 'exec sleep 30', { namespace: 'api' })); // id 1, named "0"
    await c.startService(shService('b', 'exec sleep 30')); // id 2
    expect(await c.stopService('0')).toBe(1);
    expect((await c.describeService('a')).status).toBe('stopped');
    expect((await c.describeService('1')).status).toBe('online');
    expect(await c.restartService('api')).toBe(2);
    expect((await c.describeService('a')).status).toBe('online');
    expect(await c.stopService('api')).toBe(2);
    expect((await c.describeService('b')).status).toBe('online');
    expect((await c.describeService('b')).config.namespace).toBe('');
    expect(await codeOf(c.stopService('7'))).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
    await waitStatus(c, 'b', 'online');
  });

  it('refuses bad pm2 options naming the field, and starts nothing', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ instances: 1000 }, /instances must be an integer from 0 to 256/],
      [{ watchDelayMs: 4_000_000 }, /watch_delay_ms must be an integer from 0 to 3600000/],
      [{ namespace: 'a\u0007b' }, /namespace .* printable/],
      [{ instanceVar: 'A=B' }, /instance_var/],
      [{ watchPaths: [''] }, /watch_paths\[0\] is empty/],
      [{ pidFile: 'x\u0000y' }, /pid_file .* NUL/],
      [{ logDateFormat: 'x'.repeat(5000) }, /log_date_format is 5000 characters long/],
      [{ expBackoffRestartDelayMs: 4_000_000 }, /exp_backoff_restart_delay_ms must be an integer/],
    ];
    for (const [extra, message] of bad) {
      const err = await c.startService(shService('bad', 'true', extra)).then(() => null, (e: Error & { code: number }) => e);
      expect(err?.code, JSON.stringify(extra)).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
      expect(err?.message).toMatch(message);
      expect(err?.message).toContain("service 'bad'");
    }
    expect(await c.listServices()).toEqual([]);
  });
});
