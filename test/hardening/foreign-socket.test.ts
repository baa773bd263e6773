// The client trusts no foreign socket (issue 22.1): uid 65534 pre-creates runpm-<uid>/default.sock
// in a shared 1777 TMPDIR and listens on it; runpm (as root, with a secret in --env) refuses to
// connect, naming the path and the owner, and not one byte reaches the foreign socket.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, DaemonNotRunningError } from '../../src/client/connect';
import { makeTempHome, runCli, waitFor } from '../helpers/daemon';

const dirs: string[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('a socket planted by another user', () => {
  it('runpm refuses it before sending anything; the planted listener receives 0 bytes', async () => {
    const tmp = makeTempHome('rp-fs-');
    dirs.push(tmp);
    fs.chmodSync(tmp, 0o1777);
    const uid = process.geteuid!();
    const dir = path.join(tmp, `runpm-${uid}`);
    const sock = path.join(dir, 'default.sock');
    const received = path.join(tmp, 'received');
    // The other user's listener: creates the directory (0700, theirs) and counts every byte it gets.
    const script = `
      const fs = require('fs'); fs.mkdirSync(${JSON.stringify(dir)}, { mode: 0o700 });
      fs.writeFileSync(${JSON.stringify(received)}, '0');
      let n = 0;
      require('net').createServer((c) => c.on('data', (d) => { n += d.length; fs.writeFileSync(${JSON.stringify(received)}, String(n)); }))
        .listen(${JSON.stringify(sock)}, () => { fs.chmodSync(${JSON.stringify(sock)}, 0o777); fs.chmodSync(${JSON.stringify(dir)}, 0o777); console.log('LISTENING'); });`;
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(child.pid!);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('LISTENING'), 'the foreign listener');
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
    for (const k of ['RUNPM_HOME', 'RUNPM_SCOPE', 'XDG_RUNTIME_DIR']) delete env[k];
    env.XDG_STATE_HOME = path.join(makeTempHome('rp-fs-state-'), 'state');
    dirs.push(path.dirname(env.XDG_STATE_HOME));
    const r = await runCli(['start', '--name', 'app', '--env', 'DB_PASSWORD=s3cret', '--', 'sleep', '1'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to connect to ${sock}: its directory ${dir} is owned by uid 65534, not by this user (uid ${uid})`);
    // Even with the directory handed over to us, a socket of theirs is refused.
    fs.chownSync(dir, uid, uid);
    fs.chmodSync(dir, 0o700);
    const r2 = await runCli(['list'], env);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`refusing to connect to ${sock}: the socket is owned by uid 65534`);
    expect(fs.readFileSync(received, 'utf8')).toBe('0');
  });

  it('a directory another user swaps in and out under a parent they can write: never connected to, 0 bytes', async () => {
    const tmp = makeTempHome('rp-fs-');
    dirs.push(tmp);
    fs.chmodSync(tmp, 0o755);
    const shared = path.join(tmp, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o777); // writable by all, not sticky: entries can be renamed by anyone
    const uid = process.geteuid!();
    const dir = path.join(shared, `runpm-${uid}`);
    const sock = path.join(dir, 'default.sock');
    const theirs = path.join(shared, 'theirs');
    const received = path.join(shared, 'received');
    // The other user listens in a directory of theirs and renames it to ours and back, as fast as
    // it can: a check of the directory alone and the connect after it see different directories.
    const script = `
      const fs = require('fs'); fs.mkdirSync(${JSON.stringify(theirs)}, { mode: 0o700 });
      fs.writeFileSync(${JSON.stringify(received)}, '0');
      let n = 0;
      require('net').createServer((c) => c.on('data', (d) => { n += d.length; fs.writeFileSync(${JSON.stringify(received)}, String(n)); }))
        .listen(${JSON.stringify(path.join(theirs, 'default.sock'))}, () => {
          console.log('LISTENING');
          const swap = () => {
            for (let i = 0; i < 200; i++) {
              try { fs.renameSync(${JSON.stringify(theirs)}, ${JSON.stringify(dir)}); } catch {}
              try { fs.renameSync(${JSON.stringify(dir)}, ${JSON.stringify(theirs)}); } catch {}
            }
            setImmediate(swap);
          };
          swap();
        });`;
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(child.pid!);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('LISTENING'), 'the foreign listener');
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      let outcome: string;
      try {
        const c = await connect({ socket: sock, autoStart: false, callTimeoutMs: 2000 });
        outcome = 'connected';
        await c.ping().catch(() => undefined);
        c.close();
      } catch (err) {
        const m = (err as Error).message;
        if (err instanceof DaemonNotRunningError) outcome = 'not running';
        else if (m.includes(`refusing ${shared}: the directory's mode is 0777: group or others can write to it and it is not sticky`)) outcome = 'refused: parent writable by others';
        else if (m.includes('owned by uid 65534')) outcome = 'refused: theirs';
        else outcome = m;
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`300 connects while uid 65534 swaps directories: ${JSON.stringify(outcomes)}`);
    expect(outcomes.connected ?? 0).toBe(0);
    expect(Object.keys(outcomes).every((k) => ['not running', 'refused: parent writable by others', 'refused: theirs'].includes(k)), JSON.stringify(outcomes)).toBe(true);
    expect(outcomes['refused: parent writable by others']).toBeGreaterThan(0);
    expect(fs.readFileSync(received, 'utf8')).toBe('0');
    // And the CLI says why, naming the parent.
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: shared };
    for (const k of ['RUNPM_HOME', 'RUNPM_SCOPE', 'XDG_RUNTIME_DIR']) delete env[k];
    const r = await runCli(['daemon', 'ping'], env);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(received, 'utf8')).toBe('0');
  });
});
