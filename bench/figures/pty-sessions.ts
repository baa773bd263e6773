// PTY-session figures, each against a floor or peer of the same kind measured in the same run:
// - throughput of `cat` of a big file read by an attached client, against a C reader of the kernel
//   PTY (bench/pty-floor.ts) and against a tmux control-mode client reading the same cat's pane;
//   a detached session (nobody reading) against a detached tmux pane; every path in raw mode, its
//   clock started when the child is ready and told "go";
// - spawn → exit of `true` from a connected client, against raw node-pty and a tmux control client;
//   `runpm run --pty` against `tmux new-session -d`, both fresh CLI processes;
// - key latency during a flood: ^C and the detach key typed into a tmux pane while an attached bash
//   cats 100 MB, runpm attach against tmux attach and dtach -a (bench/attach-latency.ts).
// One daemon for the throughput runs and a fresh one for the latency runs, and one private tmux
// server (its own socket in opts.workDir), all stopped before returning.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import type { DaemonClient } from '../../src/client';
import { startBenchDaemon, type BenchDaemon } from '../bench-daemon';
import { median, pollUntil, ratioRow, summarize, writePatternFile } from '../measure';
import { measureSpawnLatency } from '../spawn-latency';
import { PTY_CAT_SCRIPT, preparePtyFloor, type PtyFloor } from '../pty-floor';
import { TmuxControlClient, TmuxServer, hasTmux, tmuxQuote } from '../tmux-control';
import { attachLatencyRows } from '../attach-latency';

/** Untimed spawns before each block of latency runs (steady state, not first-call compilation). */
const LATENCY_WARMUPS = 2;
/** The tmux session the control client attaches to (its panes' output reaches that client). */
const CONTROL_SESSION = 'ctl';

const msSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mibs = (bytes: number, ms: number) => bytes / (1024 * 1024) / (ms / 1000);

/** One throughput run: bytes the reader got (and was told it missed) and ms from "go" to the end. */
interface CatRun {
  bytes: number;
  missed: number;
  ms: number;
}

/** Attached client: spawn, attach, wait for the child's "R", write "go", read until the exit frame. */
async function attachedSessionCat(client: DaemonClient, file: string): Promise<CatRun> {
  const { sessionId } = await client.spawnPty({ argv: ['sh', '-c', PTY_CAT_SCRIPT, file] });
  const att = await client.attachPty(sessionId, { replay: 'ring' });
  let ready = att.backlog.includes('R');
  while (!ready) {
    const f = await att.next();
    if (!f || f.kind !== 'output') throw new Error('pty session ended before it was ready');
    ready = f.data.includes('R');
  }
  const t0 = process.hrtime.bigint();
  att.write('go\n');
  let bytes = 0;
  let missed = 0;
  for await (const f of att) {
    if (f.kind === 'output') bytes += f.data.length;
    else if (f.kind === 'missed') missed += f.bytes;
    else break;
  }
  const ms = msSince(t0);
  await client.purge();
  return { bytes, missed, ms };
}

/** A FIFO the detached children wait on: nobody is attached, so "go" cannot come as input. */
function makeGate(dir: string, name: string): string {
  const fifo = path.join(dir, name);
  fs.rmSync(fifo, { force: true });
  const r = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo ${fifo}: ${r.stderr.trim()}`);
  return fifo;
}

/** Opens the gate once its reader (the ready child) has, writes "go"; resolves at that moment. */
async function openGate(fifo: string): Promise<bigint> {
  let fd = -1;
  await pollUntil(() => {
    try {
      // O_NONBLOCK: ENXIO until the child opened its end, instead of blocking this process.
      fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
      throw err;
    }
  }, `a reader of ${fifo}`, 30_000, 1);
  const t0 = process.hrtime.bigint();
  fs.writeSync(fd, 'go\n');
  fs.closeSync(fd);
  return t0;
}

/** The detached children's script: raw mode, wait on the gate (argv $1), then cat the file ($0). */
const DETACHED_CAT_SCRIPT = 'stty raw -echo; read go < "$1"; exec cat "$0"';

/** Detached session: nobody attached; "go" through the gate, until its session.exited event. */
async function detachedSessionCat(client: DaemonClient, file: string, gateDir: string): Promise<number> {
  const gate = makeGate(gateDir, 'session-gate');
  const events = await client.subscribeEvents({ kinds: ['session.exited'] });
  try {
    const { sessionId } = await client.spawnPty({ argv: ['sh', '-c', DETACHED_CAT_SCRIPT, file, gate] });
    const exited = (async () => {
      for await (const e of events) if (e.sessionId === sessionId) return;
      throw new Error('the event stream ended before the detached session exited');
    })();
    const t0 = await openGate(gate);
    await exited;
    const ms = msSince(t0);
    const [info] = (await client.listPtys()).filter((s) => s.sessionId === sessionId);
    if (info?.exitCode !== 0) throw new Error(`detached cat exited with ${info?.exitCode}`);
    await client.purge();
    return ms;
  } finally {
    events.close();
  }
}

/** The tmux peers of the throughput rows: a server with a control client attached to CONTROL_SESSION. */
interface TmuxPeer {
  server: TmuxServer;
  control: TmuxControlClient;
}

/** A new window in `session` running `script`; its window and pane ids. */
async function tmuxWindow(peer: TmuxPeer, session: string, script: string, ...args: string[]): Promise<{ window: string; pane: string }> {
  const command = `sh -c ${[script, ...args].map(tmuxQuote).join(' ')}`;
  const [ids] = await peer.control.command(`new-window -d -t ${tmuxQuote(`${session}:`)} -P -F '#{window_id} #{pane_id}' ${tmuxQuote(command)}`);
  const [window, pane] = ids!.split(' ');
  return { window: window!, pane: pane! };
}

/** The control-mode pane's script: PTY_CAT_SCRIPT, but the pane stays open after cat (see below). */
const CONTROL_CAT_SCRIPT = 'stty raw -echo; printf R; read go; cat "$0"; exec sleep 600';

/**
 * tmux control client reading a pane of its session: the same child, "R" seen in %output, "go"
 * sent as keys (send-keys -H: raw mode reads the newline), until the file's last byte arrived in
 * %output. The pane stays open after cat: tmux 3.3 drops a pane's output not yet sent to a control
 * client when the pane closes (15-17 KB of every run here), and a peer that loses bytes is no peer.
 */
async function controlClientCat(peer: TmuxPeer, file: string, bytes: number): Promise<CatRun> {
  const { window, pane } = await tmuxWindow(peer, CONTROL_SESSION, CONTROL_CAT_SCRIPT, file);
  // The child prints nothing before its "R" (stty is quiet), so one byte means ready.
  await peer.control.waitForPaneBytes(pane, 1);
  const before = peer.control.paneBytes(pane);
  const t0 = process.hrtime.bigint();
  await peer.control.command(`send-keys -t ${pane} -H 67 6f 0a`);
  await withDeadline(peer.control.waitForPaneBytes(pane, before + bytes), 120_000,
    () => `tmux -C got ${peer.control.paneBytes(pane) - before} of ${bytes} bytes in 120 s`);
  const ms = msSince(t0);
  await peer.control.command(`kill-window -t ${window}`);
  await peer.control.waitForWindowClose(window);
  return { bytes: peer.control.paneBytes(pane) - before, missed: 0, ms };
}

/** Rejects with what() when p has not settled within ms. */
async function withDeadline<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what())), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/** A detached tmux pane (in a session no client is attached to): through the gate, until its window closed. */
async function detachedPaneCat(peer: TmuxPeer, file: string, gateDir: string): Promise<number> {
  const gate = makeGate(gateDir, 'tmux-gate');
  const { window } = await tmuxWindow(peer, 'keep', DETACHED_CAT_SCRIPT, file, gate);
  const t0 = await openGate(gate);
  await peer.control.waitForWindowClose(window);
  return msSince(t0);
}

async function startTmuxPeer(workDir: string): Promise<TmuxPeer> {
  const server = TmuxServer.start(path.join(workDir, 'tmux.sock'));
  try {
    server.run('new-session', '-d', '-s', CONTROL_SESSION, '-x', '80', '-y', '24', 'sleep 600');
    return { server, control: await TmuxControlClient.attach(server, CONTROL_SESSION) };
  } catch (err) {
    server.kill();
    throw err;
  }
}

async function measureThroughput(d: BenchDaemon, floor: PtyFloor | null, peer: TmuxPeer | null, opts: BenchOptions): Promise<BenchResult[]> {
  const mb = opts.smoke ? 8 : opts.quick ? 50 : 200;
  const file = path.join(opts.workDir, 'pty-cat-input.bin');
  const bytes = writePatternFile(file, mb);
  const runs = opts.smoke ? 1 : opts.quick ? 3 : 5;
  const t = { floor: [] as number[], attached: [] as number[], control: [] as number[], detached: [] as number[], pane: [] as number[] };
  let missed = 0;
  for (let i = 0; i < runs; i++) {
    // Interleaved, so a noisy moment of the shared machine hits every path alike.
    if (floor) {
      const f = await floor.catRun(file);
      if (f.bytes !== bytes) throw new Error(`the PTY floor (${floor.label}) read ${f.bytes} of ${bytes} bytes`);
      t.floor.push(mibs(f.bytes, f.ms));
    }
    const s = await attachedSessionCat(d.client, file);
    if (s.bytes + s.missed !== bytes) throw new Error(`pty session delivered ${s.bytes} + ${s.missed} missed of ${bytes} bytes`);
    t.attached.push(mibs(s.bytes, s.ms));
    missed += s.missed;
    t.detached.push(mibs(bytes, await detachedSessionCat(d.client, file, opts.workDir)));
    if (peer) {
      const c = await controlClientCat(peer, file, bytes);
      if (c.bytes !== bytes) throw new Error(`tmux -C read ${c.bytes} of ${bytes} bytes`);
      t.control.push(mibs(c.bytes, c.ms));
      t.pane.push(mibs(bytes, await detachedPaneCat(peer, file, opts.workDir)));
    }
  }
  fs.rmSync(file, { force: true });
  const lossNote = missed > 0 ? `the client was told it missed ${missed} of ${bytes * runs} bytes over the runs` : undefined;
  const attached = { unit: 'MiB/s', ...summarize(t.attached), missedBytes: missed, note: lossNote };
  const rows: BenchResult[] = [];
  const floorRow = { ...attached, id: 'pty.attached_cat_throughput', target: '>= 0.8x',
    label: `attached client reading \`cat\` of a ${mb} MB file in a PTY session (raw mode)` };
  // `met` of the '>=' targets comes from the report (completeRow), which also fails a lossy row.
  rows.push(floor
    ? ratioRow(floorRow, { label: floor.label, value: median(t.floor), unit: 'MiB/s', missedBytes: 0 }, null)
    : { ...floorRow, note: 'no C compiler (cc) and no util-linux script: the PTY floor was not measured' });
  const controlRow = { ...attached, id: 'pty.attached_cat_throughput_vs_tmux_control', target: '>= 2x',
    label: 'the same attached client next to a tmux control-mode client (`tmux -C`) reading the same cat in a pane' };
  const controlNote = 'tmux\'s clock stops at the last byte in %output (its pane stays open: tmux drops unsent output of a closing pane)';
  rows.push(peer
    ? ratioRow({ ...controlRow, note: [lossNote, controlNote].filter(Boolean).join('; ') },
      { label: 'tmux -C client, %output of the pane', value: median(t.control), unit: 'MiB/s', missedBytes: 0 }, null)
    : { ...controlRow, note: 'tmux not installed: peer not measured' });
  const detachedRow = { unit: 'MiB/s', ...summarize(t.detached), id: 'pty.detached_cat_throughput_vs_tmux_pane',
    label: `detached PTY session (nobody attached) running \`cat\` of ${mb} MB, until it exited`,
    note: 'no reader on either side: the session keeps the last ring of output, the pane its screen and history' };
  rows.push(peer
    ? ratioRow(detachedRow, { label: 'detached tmux pane, the same cat (raw mode)', value: median(t.pane), unit: 'MiB/s' }, null)
    : { ...detachedRow, note: 'tmux not installed: peer not measured' });
  return rows;
}

function measureLatency(d: BenchDaemon, peer: TmuxPeer | null, opts: BenchOptions): BenchResult[] {
  // Every path timed from a fresh process (bench/spawn-latency.ts): forks from this ~90 MB process
  // would cost the raw and tmux paths more than they cost anyone else. Alternating blocks, each path
  // warm (the first spawns compile the daemon's and the client's code).
  const latency = measureSpawnLatency({
    scope: d.scope, home: d.home, argv: ['true'],
    ...(peer ? { tmux: { socket: peer.server.socket, controlSession: CONTROL_SESSION } } : {}),
    paths: ['raw-pty', 'session-pty-attached', 'session-pty-two-requests', 'cli-runpm-run-pty',
      ...(peer ? ['tmux-control' as const, 'cli-tmux-new-session' as const] : [])],
    blocks: { rounds: 3, perBlock: opts.smoke ? 1 : opts.quick ? 4 : 10, warmups: LATENCY_WARMUPS },
  });
  const times = (p: keyof typeof latency.times) => latency.times[p] ?? [];
  const where = `all paths timed from one fresh node process (${latency.rssMb.toFixed(0)} MB RSS)`;
  const attached = { unit: 'ms', ...summarize(times('session-pty-attached')) };
  const rawBaseline = { label: 'raw node-pty spawn → onExit', value: median(times('raw-pty')), unit: 'ms' };
  const rows: BenchResult[] = [
    ratioRow({ ...attached, id: 'pty.spawn_to_exit.p50', target: '<= 1.5x', note: where,
      label: 'PTY session spawn→exit of `true` from a connected client (spawned attached: one request, until the exit frame)' }, rawBaseline, 1.5),
    ratioRow({ unit: 'ms', ...summarize(times('session-pty-two-requests')), id: 'pty.spawn_then_attach_to_exit.p50',
      label: 'the same spawned, then attached (two requests)' }, rawBaseline, null),
  ];
  const controlRow = { ...attached, id: 'pty.spawn_to_exit_vs_tmux_control.p50', target: '<= 0.5x',
    label: 'the same connected-client spawn→exit next to a tmux control client (`new-window -d true` until %window-close)' };
  const cliRow = { unit: 'ms', ...summarize(times('cli-runpm-run-pty')), id: 'pty.cli_run_vs_tmux_new_session.p50',
    label: '`runpm run --pty -- true` next to `tmux new-session -d true`: a fresh CLI process until the session exists',
    note: `no target: a Node CLI starts in about \`node -e ''\`'s time, tmux's C client in a few ms (core figures); ${where}` };
  if (!peer) return [...rows, { ...controlRow, note: 'tmux not installed: peer not measured' }, { ...cliRow, note: 'tmux not installed: peer not measured' }];
  return [
    ...rows,
    ratioRow(controlRow, { label: 'tmux -C new-window → %window-close', value: median(times('tmux-control')), unit: 'ms' }, 0.5),
    ratioRow(cliRow, { label: 'tmux new-session -d (the command returns)', value: median(times('cli-tmux-new-session')), unit: 'ms' }, null),
  ];
}

export const figure: BenchFigure = {
  name: 'pty-sessions',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    // Throughput and latency each get a fresh daemon: after streaming 600 MB the daemon's malloc heap
    // holds ~20 MB more, and every fork copies its page tables (~0.4 ms slower per spawn).
    let d = await startBenchDaemon(opts.workDir, 'pty-throughput');
    const peer = hasTmux() ? await startTmuxPeer(opts.workDir) : null;
    try {
      const rows = await measureThroughput(d, preparePtyFloor(opts.workDir), peer, opts);
      // The probe attaches its own control client for the latency paths.
      peer?.control.close();
      await d.stop();
      d = await startBenchDaemon(opts.workDir, 'pty-latency');
      rows.push(...measureLatency(d, peer, opts));
      // Its own daemon and tmux servers (the terminal, the peer), one after the other.
      rows.push(...await attachLatencyRows(opts));
      return rows;
    } finally {
      peer?.control.close();
      peer?.server.kill();
      await d.stop();
    }
  },
};
