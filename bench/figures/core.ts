// Core figures: PING round trip through the client library next to a raw unix-socket echo of
// the same frame size, and the wall time of `runpm daemon ping` / `runpm list` / `runpm --version`
// next to `node -e ''` (and `pm2 ping` / `pm2 jlist` when pm2 is installed). One daemon lives for the figure's run.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { median, percentile, ratioRow, rssMb, summarize, timeProcessesInterleaved } from '../measure';
import { REPO_ROOT, RUNPM, startBenchDaemon } from '../bench-daemon';
import { encodeFrame } from '../../src/wire/frame';
import { encodeRequest } from '../../src/wire/envelope';
import { PROTOCOL_VERSION, RequestType } from '../../src/wire/proto';
import type { DaemonClient } from '../../src/client';

/** Echo server run as its own process, like the daemon: writes back every byte it reads. */
const ECHO_SERVER_SOURCE = `
const net = require('node:net');
const server = net.createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
server.listen(process.argv[1], () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

interface Counts {
  pingRounds: number;
  pingsPerRound: number;
  warmupPings: number;
  cliRuns: number;
  cliWarmups: number;
}

function countsFor(opts: BenchOptions): Counts {
  if (opts.smoke) return { pingRounds: 1, pingsPerRound: 200, warmupPings: 50, cliRuns: 2, cliWarmups: 0 };
  if (opts.quick) return { pingRounds: 3, pingsPerRound: 2_000, warmupPings: 500, cliRuns: 7, cliWarmups: 1 };
  return { pingRounds: 5, pingsPerRound: 20_000, warmupPings: 2_000, cliRuns: 15, cliWarmups: 2 };
}

/** Times n sequential PINGs through the client; microseconds each. */
async function timePings(client: DaemonClient, n: number): Promise<number[]> {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    await client.ping();
    out[i] = Number(process.hrtime.bigint() - started) / 1000;
  }
  return out;
}

/** A bare socket client of the echo server: one frame out, wait for as many bytes back. */
class EchoClient {
  private expected = 0;
  private received = 0;
  private resolve: (() => void) | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.received >= this.expected && this.resolve) {
        const done = this.resolve;
        this.resolve = null;
        done();
      }
    });
  }

  roundTrip(frame: Buffer): Promise<void> {
    this.expected = frame.length;
    this.received = 0;
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.socket.write(frame);
    });
  }

  async time(frame: Buffer, n: number): Promise<number[]> {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const started = process.hrtime.bigint();
      await this.roundTrip(frame);
      out[i] = Number(process.hrtime.bigint() - started) / 1000;
    }
    return out;
  }
}

async function startEchoServer(socketPath: string): Promise<{ proc: ChildProcess; client: EchoClient; socket: net.Socket }> {
  const proc = spawn(process.execPath, ['-e', ECHO_SERVER_SOURCE, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`echo server exited early (${code})`)));
    proc.stdout!.once('data', () => resolve());
  });
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { proc, client: new EchoClient(socket), socket };
}

/** The byte size a PING request occupies on the wire (frame header included). */
function pingFrame(): Buffer {
  return encodeFrame(encodeRequest({
    id: 123_456, type: RequestType.REQUEST_TYPE_PING, protocolVersion: PROTOCOL_VERSION, clientName: 'bench core', ping: {},
  }));
}

async function measurePing(opts: BenchOptions, counts: Counts, client: DaemonClient): Promise<BenchResult[]> {
  const echoPath = path.join(opts.workDir, 'echo.sock');
  const echo = await startEchoServer(echoPath);
  try {
    const frame = pingFrame();
    await timePings(client, counts.warmupPings);
    await echo.client.time(frame, counts.warmupPings);
    const rounds = { pingP50: [] as number[], pingP99: [] as number[], echoP50: [] as number[], echoP99: [] as number[] };
    // Interleaved rounds: a noisy moment of the shared machine hits both sides alike.
    for (let r = 0; r < counts.pingRounds; r++) {
      const echoTimes = await echo.client.time(frame, counts.pingsPerRound);
      const pingTimes = await timePings(client, counts.pingsPerRound);
      rounds.echoP50.push(percentile(echoTimes, 50));
      rounds.echoP99.push(percentile(echoTimes, 99));
      rounds.pingP50.push(percentile(pingTimes, 50));
      rounds.pingP99.push(percentile(pingTimes, 99));
    }
    const perRound = `${counts.pingsPerRound} sequential requests per run, ${frame.length}-byte frame`;
    const echoP50 = summarize(rounds.echoP50).value;
    const echoP99 = summarize(rounds.echoP99).value;
    const p99 = summarize(rounds.pingP99);
    return [
      ratioRow({ id: 'ping.p50', label: 'PING round trip p50 via the client', unit: 'us', ...summarize(rounds.pingP50),
        target: '<= 2x', note: perRound }, { label: 'raw unix-socket echo p50', value: echoP50, unit: 'us' }, 2),
      { ...ratioRow({ id: 'ping.p99', label: 'PING round trip p99 via the client', unit: 'us', ...p99,
        target: '<= 250 us', note: perRound }, { label: 'raw unix-socket echo p99', value: echoP99, unit: 'us' }, null),
      met: p99.value <= 250 },
    ];
  } finally {
    echo.socket.destroy();
    echo.proc.kill('SIGTERM');
    fs.rmSync(echoPath, { force: true });
  }
}

function measureCli(counts: Counts, env: NodeJS.ProcessEnv): BenchResult[] {
  const node = { command: process.execPath, args: ['-e', ''] };
  const ping = { command: process.execPath, args: [RUNPM, 'daemon', 'ping'], opts: { env } };
  const list = { command: process.execPath, args: [RUNPM, 'list'], opts: { env } };
  const version = { command: process.execPath, args: [RUNPM, '--version'], opts: { env } };
  const [nodeMs, pingMs, listMs, versionMs] = timeProcessesInterleaved([node, ping, list, version], counts.cliRuns, counts.cliWarmups);
  const nodeBase = { label: "node -e ''", value: median(nodeMs), unit: 'ms' };
  return [
    ratioRow({ id: 'cli.ping', label: '`runpm daemon ping` wall time', unit: 'ms', ...summarize(pingMs), target: '<= 1.6x' }, nodeBase, 1.6),
    ratioRow({ id: 'cli.list', label: '`runpm list` wall time (no services)', unit: 'ms', ...summarize(listMs), target: '<= 1.6x' }, nodeBase, 1.6),
    ratioRow({ id: 'cli.version', label: '`runpm --version` wall time', unit: 'ms', ...summarize(versionMs), target: '<= 1.6x' }, nodeBase, 1.6),
  ];
}

/**
 * `runpm daemon ping` next to `pm2 ping` and `runpm list` next to `pm2 jlist` (no apps; pm2's
 * daemon already up), when pm2 is installed. pm2 runs under a temporary PM2_HOME, killed after.
 */
function measurePm2(opts: BenchOptions, counts: Counts, env: NodeJS.ProcessEnv): BenchResult[] {
  const pingRow = { id: 'cli.ping.pm2', label: '`runpm daemon ping` vs `pm2 ping`', unit: 'ms', target: '<= 0.6x' };
  const listRow = { id: 'cli.list.pm2', label: '`runpm list` vs `pm2 jlist` (no services)', unit: 'ms', target: '<= 0.6x' };
  const pm2 = path.join(REPO_ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
  if (!fs.existsSync(pm2)) {
    const note = 'pm2 not installed (node_modules/pm2): peer not measured';
    return [{ ...pingRow, value: NaN, note }, { ...listRow, value: NaN, note }];
  }
  const pm2Env = { ...process.env, PM2_HOME: path.join(opts.workDir, 'pm2-home') };
  const at = (args: string[], e: NodeJS.ProcessEnv) => ({ command: process.execPath, args, opts: { env: e } });
  try {
    const [pm2PingMs, runpmPingMs, pm2JlistMs, runpmListMs] = timeProcessesInterleaved(
      [at([pm2, 'ping'], pm2Env), at([RUNPM, 'daemon', 'ping'], env), at([pm2, 'jlist'], pm2Env), at([RUNPM, 'list'], env)],
      counts.cliRuns, Math.max(1, counts.cliWarmups));
    return [
      ratioRow({ ...pingRow, ...summarize(runpmPingMs) }, { label: 'pm2 ping', value: median(pm2PingMs), unit: 'ms' }, 0.6),
      ratioRow({ ...listRow, ...summarize(runpmListMs) }, { label: 'pm2 jlist', value: median(pm2JlistMs), unit: 'ms' }, 0.6),
    ];
  } finally {
    timeProcessesInterleaved([at([pm2, 'kill'], pm2Env)], 1, 0);
  }
}

export const figure: BenchFigure = {
  name: 'core',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const counts = countsFor(opts);
    const daemon = await startBenchDaemon(opts.workDir, 'core');
    try {
      const idleRss = rssMb(daemon.proc.pid!);
      const rows = await measurePing(opts, counts, daemon.client);
      rows.push(...measureCli(counts, daemon.env));
      if (!opts.smoke) rows.push(...measurePm2(opts, counts, daemon.env));
      rows.push({ id: 'daemon.rss.idle', label: 'daemon RSS, idle (fresh start)', unit: 'MB', value: idleRss,
        target: '<= 60 MB', met: idleRss <= 60 });
      return rows;
    } finally {
      await daemon.stop();
    }
  },
};
