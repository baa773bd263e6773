// Files the daemon writes are never opened through a symlink, and paths another user controls are
// refused, black-box: a real daemon, the real client, and a second uid (65534 through setpriv)
// planting symlinks and files in a shared 1777 directory. Every target keeps its bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { makeTempHome, RUNPMD, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService, waitStatus } from '../services/helpers';

let daemon: TestDaemon | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(mode?: number): string {
  const d = makeTempHome('rp-nf-');
  if (mode !== undefined) fs.chmodSync(d, mode);
  dirs.push(d);
  return d;
}

/** Runs a shell snippet as uid/gid 65534 (nobody), as another local user would. */
function asNobody(script: string): void {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { encoding: 'utf8', timeout: 15_000 });
  expect(r.status, r.stderr).toBe(0);
}

/** A file only root may read or write, standing for /etc/shadow and the like. */
function precious(dir: string): string {
  const file = path.join(dir, 'root-only');
  fs.writeFileSync(file, 'precious\n', { mode: 0o600 });
  return file;
}

function registerTee(d: TestDaemon, sessionId: string, filePath: string, truncate = false) {
  return d.client.send(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE, 'registerSessionTee', {
    sessionId,
    sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PIPE,
    stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDOUT,
    sinkKind: pb.TeeSinkKind.TEE_SINK_KIND_FILE,
    filePath: Buffer.from(filePath),
    fileMode: truncate ? pb.TeeFileMode.TEE_FILE_MODE_TRUNCATE : pb.TeeFileMode.TEE_FILE_MODE_APPEND,
  });
}

describe('tee paths outside the user\'s control', () => {
  it('refuses another user\'s symlink, file, FIFO and hard link in a shared 1777 directory, and a non-sticky 0777 one; targets untouched', async () => {
    const secret = precious(tempDir());
    const shared = tempDir(0o1777);
    const open = tempDir(0o777);
    asNobody([
      `ln -s ${secret} ${shared}/link.log`,
      `printf 'theirs\\n' > ${shared}/theirs.log && chmod 666 ${shared}/theirs.log`,
      `mkfifo -m 666 ${shared}/fifo`,
    ].join(' && '));
    // A hard link to the root-only file, as protected_hardlinks=0 would let nobody make.
    fs.linkSync(secret, path.join(shared, 'hard.log'));
    daemon = await startDaemon();
    const { sessionId } = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'read x; echo written'] });
    const cases: Array<[string, boolean, RegExp]> = [
      [`${shared}/link.log`, false, /ESYMLINK \(it is a symbolic link/],
      [`${shared}/link.log`, true, /ESYMLINK/],
      [`${shared}/theirs.log`, true, /EOWNER \(it is owned by uid 65534, not by this user/],
      [`${shared}/fifo`, false, /EOWNER \(it is a FIFO owned by uid 65534/],
      [`${shared}/hard.log`, true, /ELINKS \(it has 2 hard links in a directory others can write to/],
      [`${open}/new.log`, false, /EUNSAFEDIR .*mode is 0777: group or others can write to it and it is not sticky/],
    ];
    for (const [file, truncate, message] of cases) {
      const r = await registerTee(daemon, sessionId, file, truncate);
      expect(r.code, file).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
      expect(r.message).toContain(`cannot open tee file "${file}"`);
      expect(r.message).toMatch(message);
    }
    expect(fs.readFileSync(secret, 'utf8')).toBe('precious\n');
    expect(fs.readFileSync(path.join(shared, 'theirs.log'), 'utf8')).toBe('theirs\n');
    expect(fs.existsSync(`${open}/new.log`)).toBe(false);
    // The user's own files are fine: a new file in the shared directory, and /dev/null.
    const mine = `${shared}/mine.log`;
    expect((await registerTee(daemon, sessionId, mine)).code).toBe(StatusCode.STATUS_CODE_OK);
    expect((await registerTee(daemon, sessionId, '/dev/null')).code).toBe(StatusCode.STATUS_CODE_OK);
    await daemon.client.writeStdin(sessionId, 'go\n');
    await waitFor(() => fs.existsSync(mine) && fs.readFileSync(mine, 'utf8') === 'written\n', 'the tee to write the own file');
  });
});

describe('the daemon\'s own files', () => {
  it('a service log planted as a symlink: the start fails naming it, flush truncates nothing, the target keeps its bytes', async () => {
    const secret = precious(tempDir());
    daemon = await startDaemon();
    fs.symlinkSync(secret, path.join(daemon.paths.logsDir, 'evil-out.log'));
    await daemon.client.startService(shService('evil', 'echo appended; sleep 30'));
    const info = await waitStatus(daemon.client, 'evil', 'errored');
    expect(info.lastError).toMatch(/evil-out\.log: it is a symbolic link/);
    const flush = await daemon.client.send(RequestType.REQUEST_TYPE_SERVICE_FLUSH, 'serviceFlush', { target: 'evil' });
    expect(flush.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(flush.message).toMatch(/evil-out\.log: it is a symbolic link/);
    expect(fs.readFileSync(secret, 'utf8')).toBe('precious\n');
  });

  it('a pid_file in a shared directory: the symlinks another user planted (at the temp name an older daemon used, and at the pid file) write nothing through; a directory others can write is refused', async () => {
    const secret = precious(tempDir());
    const shared = tempDir(0o1777);
    const open = tempDir(0o777);
    daemon = await startDaemon();
    asNobody(`ln -s ${secret} ${shared}/.app-0.pid.${daemon.pid}.tmp && ln -s ${secret} ${shared}/app-0.pid`);
    const s = await daemon.client.startService(shService('app', 'exec sleep 30', { pidFile: `${shared}/app.pid` }));
    await waitFor(() => fs.existsSync(`${shared}/app-0.pid`) && !fs.lstatSync(`${shared}/app-0.pid`).isSymbolicLink(), 'the pid file to be written');
    expect(fs.readFileSync(`${shared}/app-0.pid`, 'utf8')).toBe(String(s.pid));
    expect(fs.readFileSync(secret, 'utf8')).toBe('precious\n');
    await daemon.client.startService(shService('other', 'exec sleep 30', { pidFile: `${open}/other.pid` }));
    const t = await waitFor(async () => (await daemon!.client.listServices()).find((x) => x.name === 'other' && x.lastError !== ''), 'the pid_file refusal');
    expect(t.lastError).toMatch(new RegExp(`cannot write pid_file .*refusing ${open}: the directory's mode is 0777: group or others can write to it and it is not sticky`));
    expect(fs.readdirSync(open)).toEqual([]);
  });

  it('runpmd refuses a daemon.log that is a symlink, and a home whose parent another user can write to', async () => {
    const secret = precious(tempDir());
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'test'), { mode: 0o700 });
    fs.symlinkSync(secret, path.join(home, 'test', 'daemon.log'));
    const r1 = await runDaemon(['--scope', 'test', '--home', home]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/daemon\.log: it is a symbolic link/);
    expect(fs.readFileSync(secret, 'utf8')).toBe('precious\n');

    // A scope directory of ours inside a directory others may write to (0777, not sticky): another
    // user could rename it away and put theirs in its place, so it is refused on every start.
    const open = tempDir(0o777);
    const scopeDir = path.join(open, 'test');
    fs.mkdirSync(scopeDir, { mode: 0o700 });
    const r2 = await runDaemon(['--scope', 'test', '--home', open]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(new RegExp(`refusing ${scopeDir}: refusing ${open}: the directory's mode is 0777`));
    // Renamed and refilled by uid 65534: the new scope directory is theirs.
    const shared = tempDir(0o1777);
    asNobody(`mkdir -m 700 ${shared}/test`);
    const r3 = await runDaemon(['--scope', 'test', '--home', shared]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/owned by uid 65534, not by this user/);
  });
});

function runDaemon(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPMD, '--reserve-bytes', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
