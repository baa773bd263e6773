// Black-box: pm2's cluster mode (issue 17). `runpm start server.js -i N` runs N node cluster
// workers with runpmd as their primary, so every instance listens on the same port and
// connections are shared between them; each is its own service (id, pid, restarts, logs). Other
// interpreters, -x and exec_mode fork stay in fork mode, as pm2 decides.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports';
import { startDaemon, waitFor, runCli, isAlive, type TestDaemon } from '../helpers/daemon';
import '../../src/client';
import { RequestType, StatusCode } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** One GET; resolves with the body, or null when nothing answers on the port. */
function get(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(null));
  });
}

/** Answers with its pid, instance number and what it sees of two env variables. */
const SERVER = `
const http = require('http');
http.createServer((req, res) => res.end(JSON.stringify({
  pid: process.pid, instance: process.env.NODE_APP_INSTANCE, worker: require('cluster').isWorker,
  secret: process.env.SHELL_SECRET ?? null, daemonOnly: process.env.DAEMON_ONLY ?? null, args: process.argv.slice(2),
}))).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening', process.env.NODE_APP_INSTANCE));
`;

interface Answer { pid: number; instance: string; worker: boolean; secret: string | null; daemonOnly: string | null; args: string[] }

interface Pm2Entry { pid: number; name: string; pm_id: number; pm2_env: { status: string; exec_mode: string; restart_time: number; instances: number } }

async function jlist(env: NodeJS.ProcessEnv): Promise<Pm2Entry[]> {
  const r = await runCli(['jlist'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Pm2Entry[];
}

/** Asks until every pid in `pids` has answered (round-robin reaches each worker). */
async function answersFrom(port: number, pids: number[]): Promise<Map<number, Answer>> {
  const seen = new Map<number, Answer>();
  await waitFor(async () => {
    const body = await get(port);
    if (body !== null) {
      const a = JSON.parse(body) as Answer;
      seen.set(a.pid, a);
    }
    return pids.every((p) => seen.has(p));
  }, `answers from every worker ${pids.join(', ')} (seen ${[...seen.keys()].join(', ')})`, 20_000);
  return seen;
}

describe('cluster mode', () => {
  it('start -i 3 runs three cluster workers sharing one port, each its own service; kill -9 of one, restart and stop', async () => {
    daemon = await startDaemon({ env: { DAEMON_ONLY: 'leaked-from-the-daemon' } });
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
    const port = await freePort();
    const { DAEMON_ONLY: _unused, ...callerEnv } = daemon.env;
    const env = { ...callerEnv, SHELL_SECRET: 'xyzzy', PORT: String(port) };
    const r = await runCli(['start', path.join(dir, 'server.js'), '-i', '3', '--', 'one', 'two'], env);
    expect(r.code, r.stderr).toBe(0);
    const list = await jlist(env);
    expect(list.map((e) => [e.name, e.pm_id, e.pm2_env.exec_mode, e.pm2_env.status, e.pm2_env.instances])).toEqual([
      ['server', 0, 'cluster_mode', 'online', 3], ['server', 1, 'cluster_mode', 'online', 3], ['server', 2, 'cluster_mode', 'online', 3],
    ]);
    const pids = list.map((e) => e.pid);
    expect(new Set(pids).size).toBe(3);
    // Three processes, one port: every worker answers on it.
    const answers = await answersFrom(port, pids);
    expect([...answers.values()].map((a) => a.instance).sort()).toEqual(['0', '1', '2']);
    for (const a of answers.values()) {
      expect(a).toMatchObject({ worker: true, secret: 'xyzzy', daemonOnly: null, args: ['one', 'two'] });
    }
    // A worker killed with SIGKILL is restarted; the port keeps answering meanwhile.
    process.kill(pids[1], 'SIGKILL');
    const after = await waitFor(async () => {
      const l = await jlist(env);
      return l[1].pid !== pids[1] && l[1].pid !== 0 && l[1].pm2_env.status === 'online' ? l : null;
    }, 'instance 1 restarted');
    expect(after[1].pm2_env.restart_time).toBe(1);
    await answersFrom(port, after.map((e) => e.pid));
    // restart: new workers; stop: nobody answers on the port any more.
    expect((await runCli(['restart', 'server'], env)).code).toBe(0);
    const restarted = await jlist(env);
    expect(restarted.every((e, i) => e.pid !== after[i].pid && e.pm2_env.status === 'online')).toBe(true);
    await answersFrom(port, restarted.map((e) => e.pid));
    expect((await runCli(['stop', 'server'], env)).code).toBe(0);
    expect((await jlist(env)).map((e) => e.pm2_env.status)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(restarted.filter((e) => isAlive(e.pid))).toEqual([]);
    await waitFor(async () => (await get(port)) === null, 'the port to be closed once no worker listens');
  });

  it('reload replaces each worker once its successor listens: a client asking all along gets every answer', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    // A restart would leave the port unserved while the new worker boots (node's start-up).
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
    const port = await freePort();
    const env = { ...daemon.env, PORT: String(port) };
    expect((await runCli(['start', path.join(dir, 'server.js'), '-i', '2'], env)).code).toBe(0);
    const before = await jlist(env);
    await answersFrom(port, before.map((e) => e.pid));
    let asking = true;
    let answered = 0;
    const failures: number[] = [];
    const asker = (async () => {
      while (asking) {
        if ((await get(port)) === null) failures.push(answered);
        else answered++;
      }
    })();
    const r = await runCli(['reload', 'server'], env);
    expect(r.code, r.stderr).toBe(0);
    const after = await jlist(env);
    await answersFrom(port, after.map((e) => e.pid));
    asking = false;
    await asker;
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(0);
    expect(after.map((e) => [e.pm2_env.status, e.pm2_env.restart_time])).toEqual([['online', 1], ['online', 1]]);
    expect(after.every((e, i) => e.pid !== before[i].pid)).toBe(true);
    await waitFor(() => before.every((e) => !isAlive(e.pid)), 'the old workers to be stopped');
  });

  it("wait_ready: launching until the app sends 'ready', then online; listen_timeout ends the wait; fork mode refuses it", async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    const go = path.join(dir, 'go');
    fs.writeFileSync(path.join(dir, 'ready.js'), `const fs = require('fs');
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); console.log('sending ready'); process.send('ready'); setInterval(() => {}, 1000); } }, 20);\n`);
    fs.writeFileSync(path.join(dir, 'mute.js'), 'setInterval(() => {}, 1000);\n');
    const env = daemon.env;
    const starting = runCli(['start', path.join(dir, 'ready.js'), '-i', '1', '--wait-ready'], env);
    await waitFor(async () => {
      const l = await jlist(env);
      return l.length === 1 && l[0].pm2_env.status === 'launching';
    }, 'the app to be launching while it has not sent ready');
    fs.writeFileSync(go, '');
    const r = await starting;
    expect(r.code, r.stderr).toBe(0);
    expect((await jlist(env))[0].pm2_env.status).toBe('online');
    // No 'ready' at all: online once listen_timeout passed, and said in the daemon's log.
    const mute = await runCli(['start', path.join(dir, 'mute.js'), '-i', '1', '--wait-ready', '--listen-timeout', '300'], env);
    expect(mute.code, mute.stderr).toBe(0);
    expect((await jlist(env)).map((e) => e.pm2_env.status)).toEqual(['online', 'online']);
    await waitFor(() => fs.readFileSync(path.join(daemon!.paths.stateDir, 'daemon.log'), 'utf8').includes("service mute: no 'ready' from the app within 300 ms"), 'the timeout in the log');
    // Fork mode has no IPC channel to send on: refused, naming why, by the CLI and by the daemon.
    const forked = await runCli(['start', path.join(dir, 'mute.js'), '--name', 'f', '--wait-ready'], env);
    expect(forked.code).not.toBe(0);
    expect(forked.stderr).toContain("wait_ready needs cluster mode in runpm");
    const wire = await daemon.client.send(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', { config: { name: 'w', cmd: ['node', path.join(dir, 'mute.js')], waitReady: true } });
    expect(StatusCode[wire.code]).toBe(StatusCode[StatusCode.STATUS_CODE_INVALID_ARGUMENT]);
    expect(wire.message).toContain('wait_ready needs exec_mode "cluster"');
  });

  it('a daemon that dies takes its workers with it; the next daemon starts them again', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER);
    const port = await freePort();
    const env = { ...daemon.env, PORT: String(port) };
    expect((await runCli(['start', path.join(dir, 'server.js'), '-i', '2'], env)).code).toBe(0);
    const before = await jlist(env);
    await answersFrom(port, before.map((e) => e.pid));
    const home = daemon.home;
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    await waitFor(() => before.every((e) => !isAlive(e.pid)), 'the workers to exit with their primary');
    daemon = await startDaemon({ home });
    const again = await waitFor(async () => {
      const l = await jlist({ ...daemon!.env, PORT: String(port) });
      return l.length === 2 && l.every((e, i) => e.pid !== 0 && e.pid !== before[i].pid && e.pm2_env.status === 'online') ? l : null;
    }, 'both instances started again by the new daemon');
    await answersFrom(port, again.map((e) => e.pid));
  });

  it('exec mode as pm2 decides it: python with -i, -x and exec_mode fork are fork mode; cluster for sh warns and forks', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tick.js'), 'setInterval(() => {}, 1000);\n');
    fs.writeFileSync(path.join(dir, 'tick.py'), 'import signal\nsignal.pause()\n');
    fs.writeFileSync(path.join(dir, 'eco.config.js'), `module.exports = { apps: [
      { name: 'forked', script: 'tick.js', instances: 2, exec_mode: 'fork' },
      { name: 'clustered', script: 'tick.js', exec_mode: 'cluster' },
      { name: 'shell', script: 'sh', args: ['-c', 'exec sleep 30'], exec_mode: 'cluster_mode' },
    ] };\n`);
    const env = daemon.env;
    expect((await runCli(['start', path.join(dir, 'tick.py'), '-i', '2'], env)).code).toBe(0);
    expect((await runCli(['start', path.join(dir, 'tick.js'), '-i', '1', '-x', '--name', 'x'], env)).code).toBe(0);
    const eco = await runCli(['start', path.join(dir, 'eco.config.js')], env);
    expect(eco.code, eco.stderr).toBe(0);
    expect(eco.stderr).toMatch(/shell.*exec_mode 'cluster_mode' is node's cluster mode; .*sh is not node, so its instances run in fork mode/);
    const modes = (await jlist(env)).map((e) => [e.name, e.pm2_env.exec_mode]);
    expect(modes).toEqual([
      ['tick', 'fork_mode'], ['tick', 'fork_mode'], ['x', 'fork_mode'], ['forked', 'fork_mode'], ['forked', 'fork_mode'],
      ['clustered', 'cluster_mode'], ['shell', 'fork_mode'],
    ]);
  });

  it('bad input: exec_mode other than fork/cluster, cluster without node, node_args_count past the argv', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    fs.writeFileSync(path.join(daemon.home, 'idle.js'), 'setInterval(() => {}, 1000);\n');
    const base = { name: 'bad', cmd: ['node', path.join(daemon.home, 'idle.js')], cwd: daemon.home };
    const refused = async (extra: Record<string, unknown>, text: string) => {
      const r = await c.send(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', { config: { ...base, ...extra } });
      expect(StatusCode[r.code], r.message).toBe(StatusCode[StatusCode.STATUS_CODE_INVALID_ARGUMENT]);
      expect(r.message).toContain(text);
    };
    await refused({ execMode: 'threads' }, 'exec_mode must be "fork" or "cluster", got "threads"');
    await refused({ execMode: 'cluster', cmd: ['sh', '-c', 'sleep 1'] }, 'exec_mode "cluster" runs node scripts only');
    await refused({ execMode: 'cluster', cmd: ['node', '--no-warnings'], nodeArgsCount: 1 }, 'no script after its 1 node options');
    await refused({ execMode: 'cluster', nodeArgsCount: 5000 }, 'node_args_count must be an integer from 0 to 1024');
    await refused({ execMode: 'cluster', listenTimeoutMs: 4_000_000 }, 'listen_timeout_ms must be an integer from 0 to 3600000');
    expect(await c.listServices()).toEqual([]);
    // The daemon still answers after the refusals, and a right one runs.
    const good = await c.startService({ ...base, name: 'good', cmd: ['node', '--no-warnings', path.join(daemon.home, 'idle.js')], execMode: 'cluster', nodeArgsCount: 1 });
    expect(good.status).toBe('online');
    expect(fs.readFileSync(`/proc/${good.pid}/cmdline`, 'utf8').split('\0').slice(1, 3)).toEqual(['--no-warnings', path.join(daemon.home, 'idle.js')]);
  });
});
