// Black-box: pm2's files in pm2's home (issue 17: pm2's e2e scripts read them). The default
// scope's runpmd writes $PM2_HOME/pm2.pid (and removes it at exit), `save` writes dump.pm2 in
// pm2's form keeping the previous one as dump.pm2.bak; SIGTERM to that pid stops the daemon and
// its apps. A home a live pm2 daemon owns is left alone; other scopes never touch it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client';
import { startDaemon, waitFor, runCli, isAlive, makeTempHome, type TestDaemon } from '../helpers/daemon';

let daemon: TestDaemon | null = null;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const c of cleanups.splice(0)) c();
});

function pm2Home(): string {
  const home = makeTempHome('rp-pm2home-');
  cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
  return path.join(home, '.pm2');
}

describe("pm2's home", () => {
  it('pm2.pid names the default scope daemon; save writes dump.pm2 then .bak; kill $(cat pm2.pid) stops it and its apps', async () => {
    const pm2 = pm2Home();
    daemon = await startDaemon({ scope: 'default', env: { PM2_HOME: pm2 } });
    const pidFile = path.join(pm2, 'pm2.pid');
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8') === String(daemon!.pid), 'pm2.pid with the daemon pid');
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'idle.py'), 'import signal\nsignal.pause()\n');
    const env = { ...daemon.env, PM2_HOME: pm2, SECRET_OF_CALLER: 's3' };
    expect((await runCli(['start', path.join(dir, 'idle.py')], env)).code).toBe(0);
    const first = await runCli(['save'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(path.join(pm2, 'dump.pm2'));
    expect(fs.existsSync(path.join(pm2, 'dump.pm2.bak'))).toBe(false);
    const dump = JSON.parse(fs.readFileSync(path.join(pm2, 'dump.pm2'), 'utf8')) as Array<Record<string, unknown>>;
    expect(dump).toHaveLength(1);
    expect(dump[0]).toMatchObject({ name: 'idle', pm_id: 0, exec_mode: 'fork_mode', pm_exec_path: path.join(dir, 'idle.py'), status: 'online' });
    // A dump is what resurrect needs: the environment is in it, so the file is the user's alone.
    expect((dump[0].env as Record<string, string>).SECRET_OF_CALLER).toBe('s3');
    expect(fs.statSync(path.join(pm2, 'dump.pm2')).mode & 0o777).toBe(0o600);
    expect((await runCli(['save'], env)).code).toBe(0);
    expect(fs.existsSync(path.join(pm2, 'dump.pm2.bak'))).toBe(true);
    const [app] = JSON.parse((await runCli(['jlist'], env)).stdout) as Array<{ pid: number }>;
    expect(isAlive(app.pid)).toBe(true);
    process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM');
    await daemon.exited;
    await waitFor(() => !isAlive(app.pid), 'the app to be stopped with the daemon');
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  it('a home a live pm2 daemon owns is left alone, and other scopes never write there', async () => {
    const pm2 = pm2Home();
    fs.mkdirSync(pm2, { recursive: true });
    // Stands in for pm2's daemon: its command line carries pm2's process title.
    const god = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'PM2 v7.0.4: God Daemon (fake)'], { stdio: 'ignore' });
    cleanups.push(() => god.kill('SIGKILL'));
    await waitFor(() => god.pid !== undefined && fs.existsSync(`/proc/${god.pid}/cmdline`), 'the stand-in pm2 daemon');
    fs.writeFileSync(path.join(pm2, 'pm2.pid'), String(god.pid));
    daemon = await startDaemon({ scope: 'default', env: { PM2_HOME: pm2 } });
    const env = { ...daemon.env, PM2_HOME: pm2 };
    expect((await runCli(['start', 'sleep', '--', '30'], env)).code).toBe(0);
    const saved = await runCli(['save'], env);
    expect(saved.code).toBe(0);
    expect(saved.stderr).toContain(`pm2's dump.pm2 not written: a pm2 daemon (pid ${god.pid}) owns ${pm2}`);
    expect(fs.readFileSync(path.join(pm2, 'pm2.pid'), 'utf8')).toBe(String(god.pid));
    expect(fs.existsSync(path.join(pm2, 'dump.pm2'))).toBe(false);
    await daemon.stop();
    // Another scope: nothing in pm2's home even with no pm2 daemon.
    const other = pm2Home();
    daemon = await startDaemon({ env: { PM2_HOME: other } });
    expect((await runCli(['start', 'sleep', '--', '30'], { ...daemon.env, PM2_HOME: other })).code).toBe(0);
    expect((await runCli(['save'], { ...daemon.env, PM2_HOME: other })).code).toBe(0);
    expect(fs.existsSync(other)).toBe(false);
  });

  it("resurrect without a runpm snapshot brings a pm2 dump's apps over; a broken dump.pm2 is removed and its .bak read", async () => {
    const pm2 = pm2Home();
    fs.mkdirSync(pm2, { recursive: true });
    daemon = await startDaemon({ scope: 'default', env: { PM2_HOME: pm2 } });
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'web.js'), 'setInterval(() => {}, 1000);\n');
    // What pm2 save writes: one pm2_env per instance, no instances key.
    const entry = (name: string, extra: Record<string, unknown>) => ({
      name, pm_exec_path: path.join(dir, 'web.js'), pm_cwd: dir, exec_interpreter: 'node', node_args: [], args: [],
      env: { FROM_PM2: 'yes' }, exec_mode: 'fork_mode', status: 'online', autorestart: true, ...extra,
    });
    const dump = [entry('web', { exec_mode: 'cluster_mode' }), entry('web', { exec_mode: 'cluster_mode' }), entry('one', { args: ['a', 'b'] }), entry('off', { status: 'stopped' })];
    fs.writeFileSync(path.join(pm2, 'dump.pm2.bak'), JSON.stringify(dump));
    fs.writeFileSync(path.join(pm2, 'dump.pm2'), '[{');
    const env = { ...daemon.env, PM2_HOME: pm2 };
    const r = await runCli(['resurrect'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${path.join(pm2, 'dump.pm2')} was not a list of apps: removed, as pm2 does`);
    expect(fs.existsSync(path.join(pm2, 'dump.pm2'))).toBe(false);
    expect(r.stdout).toContain('restored 3 services, started 2');
    const list = JSON.parse((await runCli(['jlist'], env)).stdout) as Array<{ name: string; pm2_env: Record<string, unknown> }>;
    expect(list.map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.status, p.pm2_env.args])).toEqual([
      ['web', 'cluster_mode', 'online', []], ['web', 'cluster_mode', 'online', []], ['one', 'fork_mode', 'online', ['a', 'b']],
    ]);
    expect((await daemon.client.describeService('one')).config.env.FROM_PM2).toBe('yes');
  });
});
