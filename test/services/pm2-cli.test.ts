// Black-box: runpm used as pm2 is (issue 17.1-2): `start SCRIPT` with pm2's flags and interpreter
// rules in the caller's cwd and environment, jlist/prettylist in pm2's shape, pm2's start
// semantics (smart restart, "already launched", a stopped app restarted by name), targets with ids
// first, ecosystem files recognised by name with --env NAME and refused keys, kill and ping.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, RUNPM, type TestDaemon } from '../helpers/daemon';
import { waitStatus } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** bin/runpm in a directory (pm2 resolves scripts against the caller's cwd). */
function runIn(dir: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPM, ...args], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

interface Pm2Entry {
  pid: number;
  name: string;
  pm_id: number;
  monit: { memory: number; cpu: number };
  pm2_env: Record<string, unknown> & { status: string; restart_time: number; env?: Record<string, string> };
}

async function jlist(dir: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<Pm2Entry[]> {
  const r = await runIn(dir, ['jlist', ...extra], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Pm2Entry[];
}

const TICKER = 'setInterval(() => console.log("tick", process.env.NODE_APP_INSTANCE), 200);\n';

describe('runpm as pm2', () => {
  it('start SCRIPT: jlist in pm2 shape without env values, smart start, "already launched", and ids before names', async () => {
    daemon = await startDaemon({ env: { DAEMON_ONLY: 'leaked-from-the-daemon' } });
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'echo.js'), TICKER);
    const env = { ...daemon.env, SHELL_SECRET: 'xyzzy-secret' };
    const r = await runIn(dir, ['start', 'echo.js', '--', '--port', '8080'], env);
    expect(r.code, r.stderr).toBe(0);
    const [e] = await jlist(dir, env);
    expect(e).toMatchObject({ name: 'echo', pm_id: 0, monit: { memory: expect.any(Number), cpu: expect.any(Number) } });
    expect(e.pid).toBeGreaterThan(0);
    expect(e.pm2_env).toMatchObject({
      name: 'echo', pm_id: 0, status: 'online', restart_time: 0, unstable_restarts: 0, exec_mode: 'fork_mode', instances: 1,
      namespace: 'default', exec_interpreter: 'node', pm_exec_path: path.join(dir, 'echo.js'), pm_cwd: dir, args: ['--port', '8080'],
    });
    expect(typeof e.pm2_env.pm_uptime).toBe('number');
    expect(e.pm2_env.pm_out_log_path).toMatch(/echo-out\.log$/);
    expect(e.pm2_env.env).toBeUndefined();
    // The daemon's own environment (whatever the shell that first started it had) is not handed
    // down: an app gets its caller's environment only, as under pm2.
    fs.writeFileSync(path.join(dir, 'env.js'), 'console.log("daemon-only=" + process.env.DAEMON_ONLY); setInterval(() => {}, 1000);\n');
    const { DAEMON_ONLY: _daemonOnly, ...callerEnv } = env;
    expect((await runIn(dir, ['start', 'env.js'], callerEnv)).code).toBe(0);
    const envOut = (await daemon.client.describeService('env')).outLogPath;
    await waitFor(() => fs.readFileSync(envOut, 'utf8').includes('daemon-only=undefined'), 'env.js printing daemon-only=undefined');
    expect((await runIn(dir, ['delete', 'env'], env)).code).toBe(0);
    // Values only when asked: the app got the caller's environment (pm2 passes the shell's).
    const [withEnv] = await jlist(dir, env, ['--with-env']);
    expect(withEnv.pm2_env.env).toMatchObject({ SHELL_SECRET: 'xyzzy-secret' });
    const pretty = await runIn(dir, ['prettylist'], env);
    expect(pretty.stdout).toContain("status: 'online'");
    expect(pretty.stdout).toContain('restart_time: 0');
    expect(pretty.stdout).not.toContain('xyzzy-secret');

    // describe labels its rows as pm2's describe does (scripts grep them).
    const desc = await runIn(dir, ['describe', 'echo'], env);
    expect(desc.stdout).toMatch(new RegExp(`script path +${path.join(dir, 'echo.js')}`));
    expect(desc.stdout).toMatch(/out log path +\S+echo-out\.log/);
    expect(desc.stdout).toMatch(/script args +--port 8080/);
    expect(desc.stdout).not.toContain('entire log path');
    const again = await runIn(dir, ['start', 'echo.js'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already launched');
    // A stopped app named like a program in PATH is restarted, not redefined as /bin/echo.
    expect((await runIn(dir, ['stop', 'echo'], env)).code).toBe(0);
    expect((await runIn(dir, ['start', 'echo'], env)).code).toBe(0);
    let [s] = await jlist(dir, env);
    expect(s.pm2_env).toMatchObject({ status: 'online', pm_exec_path: path.join(dir, 'echo.js'), restart_time: 0 });
    // Starting a running app by name restarts it (pm2's smart start).
    expect((await runIn(dir, ['start', 'echo'], env)).code).toBe(0);
    [s] = await jlist(dir, env);
    expect(s.pm2_env.restart_time).toBe(1);

    // A service named "0" never shadows id 0.
    expect((await runIn(dir, ['start', 'echo.js', '--name', '0'], env)).code).toBe(0);
    expect((await runIn(dir, ['stop', '0'], env)).code).toBe(0);
    const byId = await jlist(dir, env);
    expect(byId.map((p) => [p.pm_id, p.name, p.pm2_env.status])).toEqual([[0, 'echo', 'stopped'], [1, '0', 'online']]);
    // Several targets, a regex, a script path; an unknown target exits 1.
    expect((await runIn(dir, ['restart', '/^ec/', '1'], env)).code).toBe(0);
    expect((await jlist(dir, env)).every((p) => p.pm2_env.status === 'online')).toBe(true);
    expect((await runIn(dir, ['stop', 'echo.js'], env)).stdout).toContain('stopped 2 services');
    const missing = await runIn(dir, ['restart', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('process or namespace nope not found');
    const notFound = await runIn(dir, ['start', 'eyayimfake'], env);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toContain('script not found: eyayimfake');
  });

  it('chooses the interpreter like pm2: .sh by its bash shebang, bin/www (mode 644, node shebang) under node, python unbuffered', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'interp');
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/bash\nif [[ -n "$BASH_VERSION" ]]; then echo "bash ok"; fi\nexec sleep 60\n', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'bin', 'www'), '#!/usr/bin/env node\nconsole.log("www under", process.release.name);\nsetInterval(() => {}, 1000);\n', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'app.py'), 'import signal\nprint("py line")\nsignal.pause()\n');
    for (const script of ['run.sh', 'bin/www', 'app.py']) {
      const r = await runIn(dir, ['start', script], daemon.env);
      expect(r.code, r.stderr).toBe(0);
    }
    const list = await jlist(dir, daemon.env);
    expect(list.map((p) => [p.name, p.pm2_env.exec_interpreter])).toEqual([['run', 'bash'], ['www', 'node'], ['app', 'python3']]);
    for (const [name, line] of [['run', 'bash ok'], ['www', 'www under node'], ['app', 'py line']]) {
      const entry = list.find((p) => p.name === name)!;
      await waitFor(() => fs.readFileSync(String(entry.pm2_env.pm_out_log_path), 'utf8').includes(line), `${name} printing ${line}`);
    }
    expect((await daemon.client.describeService('app')).config.env).toMatchObject({ PYTHONUNBUFFERED: '1' });
  });

  it('ecosystem files by name (apps.yaml) with --env NAME, --only, flags applied, refused keys, stdin; start fails when an app cannot spawn', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'eco');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'echo.js'), TICKER);
    fs.writeFileSync(path.join(dir, 'apps.yaml'), `apps:
  - name: web
    script: echo.js
    env: { MODE: dev, KEEP: kept }
    env_production: { MODE: prod }
  - name: other
    script: echo.js
`);
    const r = await runIn(dir, ['start', 'apps.yaml', '--env', 'production', '--only', 'web', '--namespace', 'shop'], daemon.env);
    expect(r.code, r.stderr).toBe(0);
    const web = await daemon.client.describeService('web');
    expect(web.config.env).toMatchObject({ MODE: 'prod', KEEP: 'kept' });
    expect(web.config.namespace).toBe('shop');
    expect((await daemon.client.listServices()).map((s) => s.name)).toEqual(['web']);
    // The namespace is a target; starting the file again restarts what runs (pm2's smart start), from the file.
    expect((await runIn(dir, ['restart', 'shop'], daemon.env)).code).toBe(0);
    await waitStatus(daemon.client, 'web', 'online');
    expect((await jlist(dir, daemon.env))[0].pm2_env.restart_time).toBe(1);
    const again = await runIn(dir, ['start', 'apps.yaml', '--only', 'web'], daemon.env);
    expect(again.code, again.stderr).toBe(0);
    const [restarted] = await jlist(dir, daemon.env);
    expect(restarted.pm2_env).toMatchObject({ restart_time: 2, status: 'online' });
    // Without --env production this time: the file's env block is what the app runs with now.
    expect((await daemon.client.describeService('web')).config.env).toMatchObject({ MODE: 'dev' });
    // -f adds a copy beside the running one; the name then targets both.
    expect((await runIn(dir, ['start', 'echo.js', '--name', 'web', '-f'], daemon.env)).code).toBe(0);
    expect((await jlist(dir, daemon.env)).filter((p) => p.name === 'web').map((p) => p.pm2_env.status)).toEqual(['online', 'online']);
    expect((await runIn(dir, ['stop', 'web'], daemon.env)).stdout).toContain('stopped 2 services');

    fs.writeFileSync(path.join(dir, 'refused.json'), JSON.stringify({ apps: [{ name: 'r', script: 'echo.js', wait_ready: true }] }));
    const refused = await runIn(dir, ['start', 'refused.json'], daemon.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('wait_ready needs cluster mode in runpm');
    const piped = await runIn(dir, ['start', '-'], daemon.env, JSON.stringify([{ name: 'piped', script: path.join(dir, 'echo.js') }]));
    expect(piped.code, piped.stderr).toBe(0);
    expect((await daemon.client.describeService('piped')).pid).toBeGreaterThan(0);
    fs.writeFileSync(path.join(dir, 'broken.json'), JSON.stringify({ apps: [{ name: 'nointerp', script: 'echo.js', interpreter: 'no-such-interpreter-xyz' }] }));
    const broken = await runIn(dir, ['start', 'broken.json'], daemon.env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('nointerp');
  });

  it('ping starts the daemon; kill stops every app and the daemon; monit is refused with what to use', async () => {
    daemon = await startDaemon();
    const dir = daemon.home;
    fs.writeFileSync(path.join(dir, 'echo.js'), TICKER);
    expect((await runIn(dir, ['ping'], daemon.env)).stdout).toContain('pong');
    expect((await runIn(dir, ['start', 'echo.js'], daemon.env)).code).toBe(0);
    const pid = (await daemon.client.describeService('echo')).pid;
    const monit = await runIn(dir, ['monit'], daemon.env);
    expect(monit.code).toBe(1);
    expect(monit.stderr).toContain('runpm ls');
    // pm2 commands runpm does not have are refused with the reason, not "unknown command".
    const link = await runIn(dir, ['link', 'delete'], daemon.env);
    expect(link.code).toBe(1);
    expect(link.stderr).toContain('link is pm2\'s and not part of runpm: pm2.io');
    const killed = await runIn(dir, ['kill'], daemon.env);
    expect(killed.code, killed.stderr).toBe(0);
    await daemon.exited;
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the app to be gone after kill');
    const ls = await runIn(dir, ['ls'], daemon.env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('no services');
  });
});
