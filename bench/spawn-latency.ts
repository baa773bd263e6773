// Spawn latency of every path the pipe and PTY figures compare, timed in a fresh node process of its
// own: spawn → exit of raw child_process and node-pty spawns, of sessions through a connected client
// and of a window made by a tmux control-mode client; and the wall time of the two CLIs that start a
// detached terminal session (`runpm run --pty`, `tmux new-session -d`). fork() copies the parent's page tables, so a raw spawn or a tmux client run
// from the benchmark process (~90 MB by the time these figures run) cost up to twice what they
// cost from a small process; the session paths fork in the daemon, so they would look better than
// they are. Run as a script by measureSpawnLatency(); prints the timings as JSON.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { connect, type DaemonClient, type PipeAttachment, type PtyAttachment } from '../src/client';
import { pollUntil, timeInBlocks } from './measure';
import { RUNPM } from './bench-daemon';
import { TmuxControlClient, TmuxServer, tmuxQuote } from './tmux-control';

/** The paths a probe can time. */
export type LatencyPath = 'raw-pipe' | 'session-pipe-attached' | 'session-pipe-two-requests' | 'raw-pty' | 'session-pty-attached'
  | 'session-pty-two-requests' | 'tmux-control' | 'cli-runpm-run-pty' | 'cli-tmux-new-session';

export interface LatencyRequest {
  /** The bench daemon to use (its scope and home). */
  scope: string;
  home: string;
  paths: LatencyPath[];
  argv: string[];
  blocks: { rounds: number; perBlock: number; warmups: number };
  /**
   * For the tmux paths: the socket of a running private server (bench/tmux-control.ts) and the
   * session its control client attaches to.
   */
  tmux?: { socket: string; controlSession: string };
}

export interface LatencyResult {
  times: Partial<Record<LatencyPath, number[]>>;
  /** The probe's resident set when it finished (MB): what the raw spawns forked from. */
  rssMb: number;
}

const msSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Times the request's paths in a fresh node process; resolves with its timings. */
export function measureSpawnLatency(req: LatencyRequest): LatencyResult {
  const out = execFileSync(process.execPath, [__filename, JSON.stringify(req)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(out) as LatencyResult;
}

/** Raw floor of the pipe path: spawn and wait for 'close' (exit and stdio drained). */
function rawPipe(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.resume();
    child.once('error', reject);
    child.once('close', () => resolve(msSince(t0)));
  });
}

/** Raw floor of the PTY path: node-pty spawn until onExit. */
function rawPty(argv: string[]): Promise<number> {
  const pty = require('node-pty') as typeof import('node-pty');
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const p = pty.spawn(argv[0]!, argv.slice(1), { encoding: null, rows: 24, cols: 80 });
    p.onData(() => {});
    p.onExit(() => resolve(msSince(t0)));
  });
}

/** A pipe session spawned attached to stdout (one request), or spawned then attached (two), until the exit frame. */
async function sessionPipe(client: DaemonClient, argv: string[], how: 'attached' | 'two requests'): Promise<number> {
  const t0 = process.hrtime.bigint();
  let att: PipeAttachment;
  if (how === 'attached') att = (await client.spawnPipeAttached({ argv })).attachment;
  else att = await client.attachPipe((await client.spawnPipe({ argv })).sessionId);
  for await (const f of att) if (f.kind !== 'bytes' && f.kind !== 'missed') break;
  const ms = msSince(t0);
  await client.purge();
  return ms;
}

/** A PTY session spawned attached (one request), or spawned then attached (two), until the exit frame. */
async function sessionPty(client: DaemonClient, argv: string[], how: 'attached' | 'two requests'): Promise<number> {
  const t0 = process.hrtime.bigint();
  let att: PtyAttachment;
  if (how === 'attached') att = (await client.spawnPtyAttached({ argv })).attachment;
  else att = await client.attachPty((await client.spawnPty({ argv })).sessionId);
  for await (const f of att) if (f.kind !== 'output' && f.kind !== 'missed') break;
  const ms = msSince(t0);
  await client.purge();
  return ms;
}

/**
 * `runpm run --pty -- ARGV` as a fresh process: the wall time until it printed the new session's id
 * (the session is created, as `tmux new-session -d` returns once its session is). Then, untimed,
 * until the session exited and is purged.
 */
async function cliRunPty(client: DaemonClient, req: LatencyRequest): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [RUNPM, 'run', '--pty', '--', ...req.argv], {
    encoding: 'utf8', env: { ...process.env, RUNPM_HOME: req.home, RUNPM_SCOPE: req.scope },
  });
  const ms = msSince(t0);
  if (r.status !== 0) throw new Error(`runpm run --pty exited with ${r.status}: ${r.stderr.trim()}`);
  await pollUntil(async () => (await client.listPtys()).every((s) => s.exited), 'the runpm run session to exit', 5000, 1);
  await client.purge();
  return ms;
}

/**
 * `tmux new-session -d ARGV` until the command returns; then (untimed) until the server has reaped
 * that session, so its teardown does not run inside the next measurement of another path.
 */
function cliTmuxNewSession(server: TmuxServer, name: string, argv: string[]): number {
  const t0 = process.hrtime.bigint();
  execFileSync('tmux', [...server.args, 'new-session', '-d', '-s', name, argv.join(' ')]);
  const ms = msSince(t0);
  const deadline = Date.now() + 5000;
  while (spawnSync('tmux', [...server.args, 'has-session', '-t', `=${name}`], { stdio: 'ignore' }).status === 0) {
    if (Date.now() > deadline) throw new Error(`tmux session ${name} (running \`${argv.join(' ')}\`) still exists after 5 s`);
  }
  return ms;
}

/**
 * A tmux control-mode client's spawn → exit: `new-window -d ARGV` in its own session until the
 * `%window-close` of that window (tmux closes it once the pane's program exited and its output
 * was read), the counterpart of a connected client's spawn attached until the exit frame.
 */
async function tmuxControlWindow(control: TmuxControlClient, session: string, argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const [windowId] = await control.command(`new-window -d -t ${tmuxQuote(`${session}:`)} -P -F '#{window_id}' ${tmuxQuote(argv.join(' '))}`);
  await control.waitForWindowClose(windowId!);
  return msSince(t0);
}

async function main(req: LatencyRequest): Promise<void> {
  const client = await connect({ scope: req.scope, home: req.home, autoStart: false, clientName: 'bench latency probe' });
  const server = req.tmux ? new TmuxServer(req.tmux.socket) : null;
  const control = server && req.paths.includes('tmux-control') ? await TmuxControlClient.attach(server, req.tmux!.controlSession) : null;
  const needTmux = (): TmuxServer => {
    if (!server) throw new Error('a tmux path needs LatencyRequest.tmux');
    return server;
  };
  let tmuxRun = 0;
  const run: Record<LatencyPath, () => Promise<number> | number> = {
    'raw-pipe': () => rawPipe(req.argv),
    'session-pipe-attached': () => sessionPipe(client, req.argv, 'attached'),
    'session-pipe-two-requests': () => sessionPipe(client, req.argv, 'two requests'),
    'raw-pty': () => rawPty(req.argv),
    'session-pty-attached': () => sessionPty(client, req.argv, 'attached'),
    'session-pty-two-requests': () => sessionPty(client, req.argv, 'two requests'),
    'tmux-control': () => tmuxControlWindow(control!, req.tmux!.controlSession, req.argv),
    'cli-runpm-run-pty': () => cliRunPty(client, req),
    'cli-tmux-new-session': () => cliTmuxNewSession(needTmux(), `latency-${process.pid}-${tmuxRun++}`, req.argv),
  };
  try {
    const timed = await timeInBlocks(req.paths.map((p) => run[p]), req.blocks);
    const times: LatencyResult['times'] = {};
    req.paths.forEach((p, i) => (times[p] = timed[i]));
    const result: LatencyResult = { times, rssMb: process.memoryUsage().rss / (1024 * 1024) };
    process.stdout.write(JSON.stringify(result));
  } finally {
    control?.close();
    client.close();
  }
}

if (require.main === module) {
  main(JSON.parse(process.argv[2]!) as LatencyRequest).catch((err) => {
    process.stderr.write(`${path.basename(__filename)}: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
