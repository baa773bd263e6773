// Security boundaries: untrusted state/socket directories are refused with the reason (also on
// the XDG paths), env values never reach STATUS, `ps` output or the daemon log, and a process of
// another uid cannot connect: the 0700 socket directory (and the 0600 socket) are the boundary.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { isAlive, makeTempHome, runCli, startDaemon, waitFor, RUNPMD, type TestDaemon } from '../helpers/daemon';

let daemon: TestDaemon | null = null;
const dirs: string[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await daemon?.stop();
  daemon = null;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = makeTempHome('rp-sec-');
  dirs.push(d);
  return d;
}

/** Runs runpmd to completion (it should refuse to start) with a clean RUNPM_* environment. */
function runDaemonOnce(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const base = { ...process.env };
  delete base.RUNPM_HOME;
  delete base.RUNPM_SCOPE;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPMD, '--reserve-bytes', '0', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Runs a node snippet as uid/gid 65534 (nobody) with no supplementary groups. */
function runAsNobody(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CONNECT_SCRIPT = (socketPath: string) => `
  const s = require('node:net').connect(${JSON.stringify(socketPath)});
  s.on('connect', () => { console.log('CONNECTED'); s.destroy(); });
  s.on('error', (e) => { console.log('ERROR ' + e.code); });`;

describe('untrusted directories', () => {
  it('refuses XDG runtime and state directories that are open to others or owned by another uid, saying why', async () => {
    const root = tempDir();
    const runtime = path.join(root, 'run');
    const state = path.join(root, 'state');
    fs.mkdirSync(path.join(runtime, 'runpm'), { recursive: true });
    fs.chmodSync(path.join(runtime, 'runpm'), 0o777);
    const open = await runDaemonOnce(['--scope', 'xdg'], { XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: state });
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain(`refusing ${path.join(runtime, 'runpm')}: its mode is 0777, group or others have access (expected 0700)`);

    fs.chmodSync(path.join(runtime, 'runpm'), 0o700);
    fs.mkdirSync(path.join(state, 'runpm', 'xdg'), { recursive: true, mode: 0o700 });
    fs.chownSync(path.join(state, 'runpm', 'xdg'), 65534, 65534);
    const theirs = await runDaemonOnce(['--scope', 'xdg'], { XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: state });
    expect(theirs.code).not.toBe(0);
    expect(theirs.stderr).toContain(`refusing ${path.join(state, 'runpm', 'xdg')}: it is owned by uid 65534, not by this user (uid ${process.getuid!()})`);

    fs.chmodSync(path.join(state, 'runpm', 'xdg'), 0o770);
    fs.chownSync(path.join(state, "runpm", "xdg"), process.getuid!(), process.getgid!());
    const groupWritable = await runDaemonOnce(['--scope', 'xdg'], { XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: state });
    expect(groupWritable.code).not.toBe(0);
    expect(groupWritable.stderr).toContain('its mode is 0770, group or others have access');
  });

  it('refuses a --socket path whose directory is writable by others', async () => {
    const root = tempDir();
    const shared = path.join(root, 'shared');
    fs.mkdirSync(shared, { mode: 0o777 });
    fs.chmodSync(shared, 0o1777);
    const r = await runDaemonOnce(['--scope', 's', '--home', root, '--socket', path.join(shared, 'd.sock')], {});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`refusing ${shared}: its mode is 0777, group or others have access`);
    expect(fs.existsSync(path.join(shared, 'd.sock'))).toBe(false);
  });
});

describe('secrets in the environment', () => {
  it('never shows env values in STATUS, `ps --json` or the daemon log', async () => {
    const secretDefault = 'default-s3cr3t-0f1e2d';
    const secretRequest = 'request-s3cr3t-9a8b7c';
    daemon = await startDaemon({ args: ['--debug', '--env', `RUNPM_TEST_DEFAULT_SECRET=${secretDefault}`] });
    const spawned = await daemon.client.spawnDaemon({
      command: 'exec sleep 30', cwd: '', env: [{ key: 'RUNPM_TEST_SECRET', value: secretRequest }], clearInheritedEnv: false, originator: 'sec:1',
    });
    pids.push(spawned.pid);
    // The child really got both values (so the test is not vacuous)...
    const environ = fs.readFileSync(`/proc/${spawned.pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`RUNPM_TEST_SECRET=${secretRequest}`);
    expect(environ).toContain(`RUNPM_TEST_DEFAULT_SECRET=${secretDefault}`);
    // ...and none of the daemon's outputs carry them.
    const status = JSON.stringify(await daemon.client.status());
    const list = JSON.stringify(await daemon.client.listActive({ includeUsage: true }));
    const ps = await runCli(['ps', '--json'], daemon.env);
    const statusCli = await runCli(['daemon', 'status', '--json'], daemon.env);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toContain(String(spawned.pid));
    process.kill(spawned.pid, 'SIGKILL');
    await waitFor(() => !isAlive(spawned.pid), 'the spawned child to die');
    await waitFor(() => fs.readFileSync(daemon!.paths.daemonLogPath, 'utf8').includes(`detached daemon pid ${spawned.pid} exited`), 'the exit to be logged');
    const log = fs.readFileSync(daemon.paths.daemonLogPath, 'utf8');
    expect(log).toContain(`pid ${spawned.pid}`); // the log did record this child
    for (const text of [status, list, ps.stdout, ps.stderr, statusCli.stdout, log, daemon.stderr()]) {
      expect(text).not.toContain(secretRequest);
      expect(text).not.toContain(secretDefault);
    }
  });
});

describe('peer boundary', () => {
  it('lets no other uid connect: the socket dir is 0700 and the socket 0600', async () => {
    const home = tempDir();
    // The home itself is traversable by anyone, so only the scope's own directory protects the socket.
    fs.chmodSync(home, 0o711);
    daemon = await startDaemon({ home });
    const socketPath = daemon.paths.socketPath;
    expect(fs.statSync(daemon.paths.socketDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);

    const asNobody = runAsNobody(CONNECT_SCRIPT(socketPath));
    expect(asNobody.stderr).toBe('');
    expect(asNobody.stdout.trim()).toBe('ERROR EACCES');

    // Second layer: even with the directory opened up at run time, the 0600 socket refuses them.
    fs.chmodSync(daemon.paths.socketDir, 0o711);
    try {
      expect(runAsNobody(CONNECT_SCRIPT(socketPath)).stdout.trim()).toBe('ERROR EACCES');
    } finally {
      fs.chmodSync(daemon.paths.socketDir, 0o700);
    }
    // Control: the owner connects through the same path.
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
    expect(os.userInfo().uid).toBe(fs.statSync(socketPath).uid);
  });
});
