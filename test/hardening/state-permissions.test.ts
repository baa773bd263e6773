// Black-box: after a daemon ran a session, a tee, a service (logs, snapshot) and the registry (a
// SpawnDaemon child), no file or directory in its scope is group/other accessible, while every
// child it spawned still runs under the user's original umask (the daemon's 0077 is its own).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, makeTempHome, type TestDaemon } from '../helpers/daemon';
import { tightenModes } from '../../src/scope/umask';
import '../../src/client';
import { shService, waitStatus } from '../services/helpers';

let daemon: TestDaemon | null = null;
/** SpawnDaemon children outlive the daemon: killed here whatever happened. */
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

/** A umask the daemon must hand back to children: group may read, others nothing. */
const USER_UMASK = 0o027;

/** Every path under dir (dir itself included), without following symlinks. */
function walk(dir: string): string[] {
  const out = [dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

/** Reads a printed umask ("0027") from a file once it holds one. */
function umaskIn(file: string): Promise<string> {
  return waitFor(() => {
    try {
      return /^(0[0-7]{3})$/m.exec(fs.readFileSync(file, 'utf8'))?.[1] ?? null;
    } catch {
      return null;
    }
  }, `a umask in ${file}`);
}

describe('scope state permissions', () => {
  it('leaves nothing group/other accessible, while children keep the user umask', async () => {
    // The daemon inherits USER_UMASK from us, as it would from a login shell.
    const previous = process.umask(USER_UMASK);
    const starting = startDaemon({ args: ['--reserve-bytes', '65536'] });
    process.umask(previous);
    daemon = await starting;
    const c = daemon.client;
    const home = daemon.home;
    const want = `0${USER_UMASK.toString(8).padStart(3, '0')}`;

    // A pipe session that reports its umask, teed into the scope dir.
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'read go; umask'] });
    await c.registerSessionTee({ sessionId: s.sessionId, sessionKind: 'pipe', filePath: path.join(daemon.paths.stateDir, 'tee.out') });
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString().includes('0'), 'session umask');
    expect((await c.backlog(s.sessionId)).backlog.toString().trim()).toBe(want);

    // A service that prints its umask into its log, saved to a snapshot.
    await c.startService(shService('perm', 'umask; exec sleep 300'));
    await waitStatus(c, 'perm', 'online');
    const logs = path.join(daemon.paths.logsDir);
    const outLog = await waitFor(() => fs.readdirSync(logs).map((f) => path.join(logs, f)).find((f) => f.includes('perm') && f.includes('out')), 'service log');
    expect(await umaskIn(outLog)).toBe(want);
    await c.saveServices();

    // A PTY session reports its umask too (node-pty forks inside its spawn call).
    const ptyUmask = path.join(home, 'pty.umask');
    await c.spawnPty({ argv: ['sh', '-c', `umask > ${ptyUmask}; exec sleep 300`] });
    expect(await umaskIn(ptyUmask)).toBe(want);

    // The registry: a SpawnDaemon child that writes its umask, and a registered process.
    const spawned = path.join(home, 'spawned.umask');
    const row = await c.spawnDaemon({ command: `umask > ${spawned}; exec sleep 300` });
    strays.push(row.pid);
    expect(await umaskIn(spawned)).toBe(want);

    const files = walk(daemon.paths.stateDir);
    const names = files.map((f) => path.relative(daemon!.paths.stateDir, f));
    for (const expected of ['registry.sqlite3', 'registry.sqlite3-wal', 'registry.sqlite3-shm', 'daemon.log', 'tee.out', 'logs']) {
      expect(names).toContain(expected);
    }
    expect(names.some((n) => n.includes('dump') || n.endsWith('.json'))).toBe(true);
    const open = files.filter((f) => (fs.lstatSync(f).mode & 0o077) !== 0).map((f) => `${f} ${(fs.lstatSync(f).mode & 0o777).toString(8)}`);
    expect(open).toEqual([]);
    await c.stopService('perm');
    await c.killTree(row.pid);
  });
});

describe('tightenModes', () => {
  it('takes group/other access from files and directories an older daemon left, not from symlink targets', () => {
    const dir = makeTempHome();
    const outside = path.join(makeTempHome(), 'target');
    fs.writeFileSync(outside, 'x');
    fs.chmodSync(outside, 0o644);
    fs.mkdirSync(path.join(dir, 'logs'), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'logs', 'a.log'), 'x', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'registry.sqlite3'), 'x', { mode: 0o664 });
    fs.chmodSync(path.join(dir, 'logs'), 0o755);
    fs.chmodSync(path.join(dir, 'registry.sqlite3'), 0o664);
    fs.symlinkSync(outside, path.join(dir, 'link'));
    tightenModes(dir);
    const mode = (p: string) => fs.statSync(p).mode & 0o777;
    expect(mode(path.join(dir, 'logs'))).toBe(0o700);
    expect(mode(path.join(dir, 'logs', 'a.log'))).toBe(0o600);
    expect(mode(path.join(dir, 'registry.sqlite3'))).toBe(0o600);
    expect(mode(outside)).toBe(0o644);
    fs.rmSync(dir, { recursive: true });
    fs.rmSync(path.dirname(outside), { recursive: true });
  });
});
