// Services figure: `runpm start` and `runpm list` wall time (1 and 100 services) next to pm2's
// `start` and `jlist` in the same run, the restart of a service whose process was killed with
// SIGKILL (until the new process exists) next to pm2's, the LIST RPC from a connected client next
// to pm2's programmatic list() (100 apps each), and the daemon's RSS with 100 services next to
// pm2's daemon, and cluster mode: new HTTP connections per second to a 2-worker app under runpmd
// as primary, next to a bare node cluster primary (the floor) and to pm2's cluster mode. pm2 runs
// under a temporary PM2_HOME and is killed (`pm2 kill`) afterwards.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import * as net from 'node:net';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { median, rssMb } from '../measure';
import { connect } from '../../src/client';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUNPM = path.join(ROOT, 'bin', 'runpm');
const PM2_BIN = path.join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const MANY = 100;

/** Runs a node CLI once; returns its wall time in ms (throws with its stderr on failure). */
function timeCli(bin: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

function row(id: string, label: string, runs: number[], unit: string, baseline: { label: string; runs: number[] } | string, target?: (v: number, b: number) => boolean, targetText?: string): BenchResult {
  const value = median(runs);
  const r: BenchResult = { id, label, value, unit, spread: { min: Math.min(...runs), max: Math.max(...runs), runs: runs.length } };
  if (typeof baseline === 'string') r.note = baseline;
  else {
    const b = median(baseline.runs);
    r.baseline = { label: baseline.label, value: b, unit };
    r.ratio = value / b;
    if (target && targetText) {
      r.target = targetText;
      r.met = target(value, b);
    }
  }
  return r;
}

/** Writes an ecosystem file with n `sleep 600` apps (pm2's format, which runpm reads too). */
function ecosystem(dir: string, n: number, prefix: string): string {
  const apps = Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, script: 'sleep', args: '600', interpreter: 'none', autorestart: true }));
  const file = path.join(dir, `ecosystem-${prefix}.config.json`);
  fs.writeFileSync(file, JSON.stringify({ apps }));
  return file;
}

async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const runs = opts.quick ? 3 : 7;
  const home = fs.mkdtempSync(path.join(opts.workDir, 'svc-'));
  const env = { ...process.env, RUNPM_HOME: home, RUNPM_SCOPE: 'bench' };
  const pm2Home = path.join(home, 'pm2');
  const pm2Env = { ...process.env, PM2_HOME: pm2Home };
  const havePm2 = fs.existsSync(PM2_BIN);
  const noPm2 = 'pm2 not installed (npm i -D pm2): no peer measured';
  const results: BenchResult[] = [];
  try {
    execFileSync(process.execPath, [RUNPM, 'daemon', 'start'], { env });
    if (havePm2) execFileSync(process.execPath, [PM2_BIN, 'ping'], { env: pm2Env, stdio: 'ignore' });

    // One service: start (then delete, untimed) several times; list with it running.
    const startOne: number[] = [];
    const pm2StartOne: number[] = [];
    for (let i = 0; i < runs; i++) {
      startOne.push(timeCli(RUNPM, ['start', '--name', 'one', '--', 'sleep', '600'], env));
      timeCli(RUNPM, ['delete', 'one'], env);
      if (havePm2) {
        pm2StartOne.push(timeCli(PM2_BIN, ['start', 'sleep', '--name', 'one', '--', '600'], pm2Env));
        timeCli(PM2_BIN, ['delete', 'one'], pm2Env);
      }
    }
    results.push(row('services.start1', '`runpm start` of one service, wall time', startOne, 'ms',
      havePm2 ? { label: 'pm2 start', runs: pm2StartOne } : noPm2));
    timeCli(RUNPM, ['start', '--name', 'one', '--', 'sleep', '600'], env);
    if (havePm2) timeCli(PM2_BIN, ['start', 'sleep', '--name', 'one', '--', '600'], pm2Env);
    const list1 = Array.from({ length: runs }, () => timeCli(RUNPM, ['list'], env));
    const jlist1 = havePm2 ? Array.from({ length: runs }, () => timeCli(PM2_BIN, ['jlist'], pm2Env)) : [];
    results.push(row('services.list1', '`runpm list` with 1 service, wall time', list1, 'ms',
      havePm2 ? { label: 'pm2 jlist', runs: jlist1 } : noPm2, (v, b) => v <= 0.6 * b, '<= 0.6x'));
    timeCli(RUNPM, ['delete', 'all'], env);
    if (havePm2) timeCli(PM2_BIN, ['delete', 'all'], pm2Env);

    // Restart after kill -9: both daemons' own children, watched the same way.
    const daemonPid = Number(fs.readFileSync(path.join(home, 'bench', 'daemon.sock.pid'), 'utf8'));
    const pm2Pid = havePm2 ? Number(fs.readFileSync(path.join(pm2Home, 'pm2.pid'), 'utf8')) : 0;
    timeCli(RUNPM, ['start', '--name', 'crash', '--', 'sleep', '600'], env);
    const restartRuns = restartAfterKill(daemonPid, runs);
    timeCli(RUNPM, ['delete', 'crash'], env);
    let pm2RestartRuns: number[] = [];
    if (havePm2) {
      timeCli(PM2_BIN, ['start', 'sleep', '--name', 'crash', '--', '600'], pm2Env);
      pm2RestartRuns = restartAfterKill(pm2Pid, runs);
      timeCli(PM2_BIN, ['delete', 'crash'], pm2Env);
    }
    results.push(row('services.restart_kill9', 'restart of a service killed with SIGKILL: kill to its new process, default policy', restartRuns, 'ms',
      havePm2 ? { label: 'pm2 (default policy)', runs: pm2RestartRuns } : noPm2, (v) => v <= 50, '<= 50 ms'));

    // A hundred services from one ecosystem file.
    const startMany = [timeCli(RUNPM, ['start', ecosystem(home, MANY, 'r')], env)];
    const pm2StartMany = havePm2 ? [timeCli(PM2_BIN, ['start', ecosystem(home, MANY, 'p')], pm2Env)] : [];
    results.push(row('services.start100', `\`runpm start\` of an ecosystem file with ${MANY} apps, wall time`, startMany, 'ms',
      havePm2 ? { label: 'pm2 start (same file)', runs: pm2StartMany } : noPm2));
    const listMany = Array.from({ length: runs }, () => timeCli(RUNPM, ['list'], env));
    const jlistMany = havePm2 ? Array.from({ length: runs }, () => timeCli(PM2_BIN, ['jlist'], pm2Env)) : [];
    results.push(row('services.list100', `\`runpm list\` with ${MANY} services, wall time`, listMany, 'ms',
      havePm2 ? { label: 'pm2 jlist', runs: jlistMany } : noPm2, (v, b) => v <= 0.6 * b, '<= 0.6x'));

    const rpcRuns = opts.smoke ? 20 : opts.quick ? 100 : 400;
    const rpcMs = await timeListRpc(home, rpcRuns);
    const pm2ListMs = havePm2 ? timePm2ApiList(pm2Env, rpcRuns) : [];
    results.push(row('services.list_rpc100', `LIST RPC with ${MANY} services from a connected client (median of ${rpcRuns} calls per run)`, rpcMs, 'ms',
      havePm2 ? { label: "pm2's programmatic list()", runs: pm2ListMs } : noPm2, (v, b) => v <= 0.25 * b, '<= 0.25x'));

    // Cluster mode: new connections to a 2-worker http app, accepted by the primary (runpmd, pm2's
    // God, or a bare node cluster primary: the floor) and handed to a worker.
    const port = await freePort();
    const app = path.join(home, 'hello.js');
    fs.writeFileSync(app, "require('http').createServer((q, r) => r.end('hi')).listen(Number(process.env.PORT), '127.0.0.1');\n");
    const total = opts.smoke ? 200 : opts.quick ? 1000 : 3000;
    const rounds = opts.quick ? 2 : 3;
    const floor = await bareClusterRates(app, port, total, rounds);
    timeCli(RUNPM, ['start', app, '-i', '2', '--name', 'hello'], { ...env, PORT: String(port) });
    const ours = await requestRates(port, total, rounds);
    timeCli(RUNPM, ['delete', 'hello'], env);
    results.push(row('services.cluster_http', `cluster mode: new HTTP connections/s to a 2-worker app (${total} requests, 16 at a time)`, ours, 'req/s',
      { label: 'bare node cluster primary', runs: floor }, (v, b) => v >= 0.8 * b, '>= 0.8x'));
    if (havePm2) {
      timeCli(PM2_BIN, ['start', app, '-i', '2', '--name', 'hello'], { ...pm2Env, PORT: String(port) });
      const theirs = await requestRates(port, total, rounds);
      timeCli(PM2_BIN, ['delete', 'hello'], pm2Env);
      results.push(row('services.cluster_http_pm2', 'the same, next to pm2 cluster mode (same app, same client)', ours, 'req/s', { label: 'pm2 cluster mode', runs: theirs }));
    }

    const rss = [rssMb(daemonPid)];
    results.push(row('services.rss100', `runpmd RSS with ${MANY} services`, rss, 'MB',
      havePm2 ? { label: 'pm2 daemon (God) RSS', runs: [rssMb(pm2Pid)] } : noPm2, (v, b) => v <= b, '<= pm2 daemon'));
  } finally {
    spawnSync(process.execPath, [RUNPM, 'daemon', 'stop', '--timeout', '5'], { env });
    if (havePm2) spawnSync(process.execPath, [PM2_BIN, 'kill'], { env: pm2Env, stdio: 'ignore' });
    fs.rmSync(home, { recursive: true, force: true });
  }
  return results;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** One GET on a new connection; resolves true on a 200. */
function getOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
  });
}

/** Waits until the port answers, then `rounds` times sends `total` requests 16 at a time: requests/s per round. */
async function requestRates(port: number, total: number, rounds: number): Promise<number[]> {
  const deadline = Date.now() + 15_000;
  while (!(await getOnce(port))) {
    if (Date.now() > deadline) throw new Error(`nothing answered on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let sent = 0;
    let failed = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (sent < total) {
        sent++;
        if (!(await getOnce(port))) failed++;
      }
    }));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (failed > 0) throw new Error(`${failed} of ${total} requests failed on port ${port}`);
    rates.push(total / s);
  }
  return rates;
}

/** The floor: the same app under a bare node cluster primary (two workers, nothing else in it). */
async function bareClusterRates(app: string, port: number, total: number, rounds: number): Promise<number[]> {
  const primary = spawn(process.execPath, ['-e', `const c = require('cluster'); c.setupPrimary({ exec: ${JSON.stringify(app)}, execArgv: [] }); c.fork(); c.fork();`],
    { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  try {
    return await requestRates(port, total, rounds);
  } finally {
    if (primary.exitCode === null && primary.signalCode === null) {
      const exited = new Promise((r) => primary.once('exit', r));
      primary.kill('SIGTERM');
      await exited;
    }
  }
}

/** Direct children of a process (Linux: /proc/<pid>/task/<pid>/children; the daemons fork from their main thread). */
function childrenOf(pid: number): number[] {
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

/** A process's command name ("" once it is gone); a child shows "sleep" once it has exec'd it. */
function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Sleeps ms without spinning: the polls must not take the CPU the daemon needs to restart. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * `runs` times: SIGKILL the daemon's only `sleep` child, then polls (every 0.5 ms) until a new
 * child runs `sleep`; returns each wait in ms. The daemon must have exactly one service running.
 */
function restartAfterKill(daemonPid: number, runs: number): number[] {
  const waitChild = (exclude: number): number => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const kids = childrenOf(daemonPid).filter((p) => p !== exclude && commOf(p) === 'sleep');
      if (kids.length > 0) return kids[0];
      if (Date.now() > deadline) throw new Error(`no new child of ${daemonPid} within 10 s after SIGKILL`);
      pause(0.5);
    }
  };
  let pid = waitChild(0);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Past pm2's min_uptime (1 s) so every kill is a stable run's end, as in production.
    pause(1100);
    const t0 = process.hrtime.bigint();
    process.kill(pid, 'SIGKILL');
    const next = waitChild(pid);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    pid = next;
  }
  return times;
}

/** Medians (ms) of `runs` LIST RPCs each, over several rounds, from one connected client. */
async function timeListRpc(home: string, runs: number): Promise<number[]> {
  const client = await connect({ scope: 'bench', home, autoStart: false, clientName: 'bench services' });
  try {
    const rounds: number[] = [];
    for (let r = 0; r < 6; r++) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        const list = await client.listServices();
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (list.length !== MANY) throw new Error(`LIST returned ${list.length} services, expected ${MANY}`);
      }
      if (r > 0) rounds.push(median(times)); // round 0 warms up
    }
    return rounds;
  } finally {
    client.close();
  }
}

/** pm2's API in a child (PM2_HOME is read when pm2 loads): per-round medians of `runs` list() calls. */
function timePm2ApiList(pm2Env: NodeJS.ProcessEnv, runs: number): number[] {
  const script = `
const pm2 = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'pm2'))});
const runs = ${runs}; const rounds = [];
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
pm2.connect((err) => {
  if (err) { console.error(String(err)); process.exit(1); }
  let round = 0; let times = [];
  const next = () => {
    const t0 = process.hrtime.bigint();
    pm2.list((e, list) => {
      if (e) { console.error(String(e)); process.exit(1); }
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (list.length !== ${MANY}) { console.error('pm2 listed ' + list.length + ' apps'); process.exit(1); }
      if (times.length < runs) return next();
      if (round++ > 0) rounds.push(med(times));
      times = [];
      if (round < 6) return next();
      pm2.disconnect();
      process.stdout.write(JSON.stringify(rounds));
      process.exit(0);
    });
  };
  next();
});`;
  const r = spawnSync(process.execPath, ['-e', script], { env: pm2Env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pm2 list() timing failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

export const figure: BenchFigure = { name: 'services', run };
