// Black-box: restarts the daemon decides by itself, with pm2's meaning (issue 17.2):
// max_memory_restart (the RSS of the run's whole tree, sampled), watch and cron_restart.
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

/** A node program that allocates (and touches) 8 MiB every 20 ms, up to about 400 MiB. */
const LEAK = `node -e 'const a = []; setInterval(() => { if (a.length < 50) a.push(Buffer.alloc(8 << 20, 1)); }, 20)'`;

describe('max_memory_restart', () => {
  it('restarts a run whose tree (a shell and its leaking child) goes over the limit', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // The shell stays the run's main process: the leak is in its child, found through the tree.
    const s = await c.startService(shService('leaky', `${LEAK}; exit 0`, { maxMemoryRestartBytes: 96 * 1024 * 1024 }));
    const restarted = await waitFor(async () => {
      const d = await c.describeService('leaky');
      return d.restartCount >= 1 && d.pid !== 0 && d.pid !== s.pid ? d : null;
    }, 'a restart for memory', 20_000);
    expect(restarted.status).toBe('online');
    expect(restarted.unstableRestarts).toBe(0); // a restart asked for is not a crash
    expect(daemon.stderr()).toContain('max_memory_restart');
  });

  it('leaves a run under its limit alone', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.startService(shService('small', 'exec sleep 30', { maxMemoryRestartBytes: 512 * 1024 * 1024 }));
    // Three sampling rounds (1 s each) pass without a restart: the daemon log says each check ran.
    const file = path.join(daemon.home, 'ticks');
    await c.startService(shService('clock', `while true; do echo t >> ${file}; sleep 0.5; done`));
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').length >= 14, 'seven clock ticks (3.5 s)', 15_000);
    const d = await c.describeService('small');
    expect(d.restartCount).toBe(0);
    expect(d.pid).toBe(s.pid);
  });
});

describe('watch', () => {
  it('restarts on a change under the watched directory, not for ignore_watch or its own logs', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const app = path.join(daemon.home, 'app');
    fs.mkdirSync(path.join(app, 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(app, 'index.js'), '1');
    // The service logs into the watched directory: its own writes must not restart it.
    const s = await c.startService(shService('w', 'echo started; exec sleep 30', {
      cwd: app, watch: true, ignoreWatch: ['tmp'], outFile: 'out.log', errorFile: 'err.log',
    }));
    // Ignored changes first; then index.js until the watcher (ready a moment after the start) sees it.
    fs.writeFileSync(path.join(app, 'tmp', 'cache'), 'x');
    const restarted = await waitFor(async () => {
      fs.writeFileSync(path.join(app, 'index.js'), String(Date.now()));
      const d = await c.describeService('w');
      return d.restartCount >= 1 && d.pid !== s.pid ? d : null;
    }, 'a restart after index.js changed', 15_000, 300);
    expect(restarted.restartCount).toBeGreaterThanOrEqual(1);
    await waitStatus(c, 'w', 'online');
    fs.writeFileSync(path.join(app, 'tmp', 'cache'), 'y');
    fs.mkdirSync(path.join(app, 'lib'));
    // A change during a restart is ignored (as pm2): add files until one restarts it.
    let n = 0;
    await waitFor(() => {
      fs.writeFileSync(path.join(app, 'lib', `f${n++}.js`), 'x');
      return /service w: add(Dir)? lib.*: restarting \(watch\)/.test(daemon!.stderr());
    }, 'a restart for lib/', 15_000, 300);
    // Every restart the watcher asked for names a file that is not ignored.
    const reasons = daemon.stderr().split('\n').filter((l) => l.includes('restarting (watch)'));
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    for (const line of reasons) expect(line).toMatch(/service w: (change index\.js|add(Dir)? lib\S*): restarting \(watch\)/);
    expect(fs.readFileSync(path.join(app, 'out.log'), 'utf8')).toContain('started');
    // As pm2: a stop turns watch off (a later start keeps it off; a start with watch turns it on).
    await c.stopService('w');
    expect((await c.describeService('w')).config.watch).toBe(false);
  });
});

describe('watch defaults', () => {
  it('ignores dot files and node_modules when ignore_watch is not given (pm2)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const app = path.join(daemon.home, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    await c.startService(shService('d', 'exec sleep 30', { cwd: app, watch: true }));
    let n = 0;
    await waitFor(async () => {
      fs.writeFileSync(path.join(app, `.dot${n}`), 'x');
      fs.writeFileSync(path.join(app, 'node_modules', `m${n}.js`), 'x');
      fs.writeFileSync(path.join(app, `real${n++}.js`), 'x');
      return (await c.describeService('d')).restartCount >= 1;
    }, 'a restart for real*.js', 15_000, 300);
    const reasons = daemon.stderr().split('\n').filter((l) => l.includes('restarting (watch)'));
    for (const line of reasons) expect(line).toMatch(/service d: add real\d+\.js: restarting \(watch\)/);
    await c.stopService('d');
  });
});

describe('cron_restart', () => {
  it('restarts at each time of the expression and refuses a bad one', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // Six fields: every second.
    const s = await c.startService(shService('tick', 'exec sleep 30', { cronRestart: '* * * * * *' }));
    const later = await waitFor(async () => {
      const d = await c.describeService('tick');
      return d.restartCount >= 2 ? d : null;
    }, 'two cron restarts', 10_000);
    expect(later.pid).not.toBe(s.pid);
    expect(later.status).toBe('online');
    await expect(c.startService(shService('bad', 'true', { cronRestart: '61 * * * *' }))).rejects.toThrow(/cron_restart "61 \* \* \* \*" is not a cron expression/);
    await c.stopService('tick');
  });

  it('runs the app again at its time after it exited or a client stopped it (as pm2); "0" turns it off', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const file = path.join(daemon.home, 'runs');
    const runs = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
    await c.startService(shService('job', `echo run >> ${file}; exec sleep 0.2`, { autorestart: false, cronRestart: '* * * * * *' }));
    await waitFor(() => runs() >= 3, 'three runs', 10_000);
    await c.stopService('job');
    const atStop = runs();
    await waitFor(() => runs() > atStop, 'a run after the stop', 10_000);
    // Redefined with cron_restart "0": no cron any more.
    await c.startService(shService('job', `echo once >> ${file}`, { autorestart: false, cronRestart: '0' }), { restartExisting: true });
    expect((await c.describeService('job')).config.cronRestart).toBe('');
  });
});
