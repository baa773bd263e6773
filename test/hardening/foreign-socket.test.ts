// The client trusts no foreign socket (issue 22.1): uid 65534 pre-creates runpm-<uid>/default.sock
// in a shared 1777 TMPDIR and listens on it; runpm (as root, with a secret in --env) refuses to
// connect, naming the path and the owner, and not one byte reaches the foreign socket.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
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
});
