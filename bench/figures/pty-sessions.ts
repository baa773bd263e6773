// PTY-session figures: throughput of `cat` of a big file to an attached client against raw node-pty
// in a bare process (and a tmux pane when tmux exists), and spawn-to-exit latency against a raw
// node-pty spawn and `tmux new-session -d`. One daemon per run, in opts.workDir; all stopped after.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import type { DaemonClient } from '../../src/client';
import { REPO_ROOT, startBenchDaemon } from '../bench-daemon';
import { median, ratioRow, summarize, writePatternFile } from '../measure';
import { measureSpawnLatency } from '../spawn-latency';

/** Untimed spawns before each block of latency runs (steady state, not first-call compilation). */
const LATENCY_WARMUPS = 2;


const msSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

// The floor: node-pty in its own process, counting bytes of the same cat (raw mode, no \r\n).
const RAW_PTY_SCRIPT = `
const pty = require(process.argv[1]);
const t0 = process.hrtime.bigint();
let n = 0;
const p = pty.spawn('sh', ['-c', 'stty raw -echo; exec cat "$0"', process.argv[2]], { encoding: null, rows: 24, cols: 80 });
p.onData((d) => { n += d.length; });
p.onExit(() => { process.stdout.write(JSON.stringify({ n, ms: Number(process.hrtime.bigint() - t0) / 1e6 })); });
`;

function rawPtyCatMiBs(file: string): { mibs: number; bytes: number } {
  const out = execFileSync(process.execPath, ['-e', RAW_PTY_SCRIPT, path.join(REPO_ROOT, 'node_modules', 'node-pty'), file], { encoding: 'utf8' });
  const r = JSON.parse(out) as { n: number; ms: number };
  return { mibs: r.n / (1024 * 1024) / (r.ms / 1000), bytes: r.n };
}

async function sessionCatMiBs(client: DaemonClient, file: string): Promise<{ mibs: number; bytes: number; missed: number }> {
  // The child says it is ready (raw mode set, so our "go" is not echoed) and waits for a line:
  // the clock starts with the client attached and the terminal quiet.
  const { sessionId } = await client.spawnPty({ argv: ['sh', '-c', 'stty raw -echo; printf R; read go; exec cat "$0"', file] });
  const att = await client.attachPty(sessionId, { replay: 'ring' });
  let ready = att.backlog.includes('R');
  while (!ready) {
    const f = await att.next();
    if (!f || f.kind !== 'output') throw new Error('pty session ended before it was ready');
    ready = f.data.includes('R');
  }
  const t0 = process.hrtime.bigint();
  att.write('go\n');
  let got = 0;
  let missed = 0;
  for await (const f of att) {
    if (f.kind === 'output') got += f.data.length;
    else if (f.kind === 'missed') missed += f.bytes;
    else break;
  }
  const ms = msSince(t0);
  await client.purge();
  return { mibs: got / (1024 * 1024) / (ms / 1000), bytes: got, missed };
}

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;

function tmuxCatMiBs(socket: string, file: string, bytes: number): number {
  const t0 = process.hrtime.bigint();
  execFileSync('tmux', ['-L', socket, 'new-window', '-d', `cat ${file}; tmux -L ${socket} wait-for -S cat-done`]);
  execFileSync('tmux', ['-L', socket, 'wait-for', 'cat-done']);
  return bytes / (1024 * 1024) / (msSince(t0) / 1000);
}

export const figure: BenchFigure = {
  name: 'pty-sessions',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    // Throughput and latency each get a fresh daemon: after streaming 600 MB the daemon's malloc heap
    // holds ~20 MB more, and every fork copies its page tables (~0.4 ms slower per spawn).
    let d = await startBenchDaemon(opts.workDir, 'pty-throughput');
    const tmuxSocket = `bench-pty-${process.pid}`;
    try {
      if (hasTmux) {
        // A running server with a long-lived session, so new-session measures a session, not a server start.
        execFileSync('tmux', ['-L', tmuxSocket, '-f', '/dev/null', 'new-session', '-d', '-s', 'keep', '-x', '80', '-y', '24', 'sleep 600']);
      }
      const results: BenchResult[] = [];

      // Throughput.
      const mb = opts.quick ? 50 : 200;
      const file = path.join(opts.workDir, 'pty-cat-input.bin');
      const bytes = writePatternFile(file, mb);
      const runs = opts.quick ? 3 : 5;
      const raw: number[] = [];
      const sess: number[] = [];
      const viaTmux: number[] = [];
      let missed = 0;
      let short = 0;
      for (let i = 0; i < runs; i++) {
        const r = rawPtyCatMiBs(file);
        raw.push(r.mibs);
        if (r.bytes !== bytes) short++;
        const s = await sessionCatMiBs(d.client, file);
        sess.push(s.mibs);
        missed += s.missed;
        if (s.bytes + s.missed !== bytes) throw new Error(`pty session delivered ${s.bytes} + ${s.missed} missed of ${bytes} bytes`);
        if (hasTmux) viaTmux.push(tmuxCatMiBs(tmuxSocket, file, bytes));
      }
      fs.rmSync(file, { force: true });
      const notes = [
        missed > 0 ? `client fell behind: ${missed} bytes reported missed over the runs` : '',
        short > 0 ? `raw node-pty came up short (tail loss) in ${short} of ${runs} runs` : '',
      ].filter(Boolean).join('; ');
      // `met` of a '>=' target comes from the report (completeRow).
      const thrRow = { unit: 'MiB/s', ...summarize(sess) };
      results.push(ratioRow({ ...thrRow, id: 'pty.attached_cat_throughput', target: '>= 0.8x', note: notes || undefined,
        label: `attached client reading \`cat\` of a ${mb} MB file in a PTY session` },
      { label: 'raw node-pty read in a bare process', value: median(raw), unit: 'MiB/s' }, null));
      const tmuxThrRow = { ...thrRow, id: 'pty.attached_cat_throughput_vs_tmux', label: 'the same PTY-session throughput next to `cat` in a detached tmux pane' };
      results.push(hasTmux
        ? ratioRow(tmuxThrRow, { label: 'tmux pane (new-window until wait-for)', value: median(viaTmux), unit: 'MiB/s' }, null)
        : { ...tmuxThrRow, note: 'tmux not installed' });

      // Spawn → exit latency, on a daemon that has not streamed anything yet, every path timed from a
      // fresh process (bench/spawn-latency.ts): forks from this ~90 MB process would cost the raw and
      // tmux paths more than they cost anyone else.
      await d.stop();
      d = await startBenchDaemon(opts.workDir, 'pty-latency');
      const argv = ['true'];
      // Alternating blocks, each path warm (the first spawns compile the daemon's and the client's code).
      const latency = measureSpawnLatency({
        scope: d.scope, home: d.home, argv, tmuxSocket,
        paths: ['raw-pty', 'session-pty-attached', 'session-pty-two-requests', ...(hasTmux ? ['tmux' as const] : [])],
        blocks: { rounds: 3, perBlock: opts.smoke ? 1 : opts.quick ? 4 : 10, warmups: LATENCY_WARMUPS },
      });
      const { 'raw-pty': rawLat = [], 'session-pty-attached': sessLat = [], 'session-pty-two-requests': twoLat = [], tmux: tmuxLat = [] } = latency.times;
      const where = `all paths timed from one fresh node process (${latency.rssMb.toFixed(0)} MB RSS)`;
      const latRow = { unit: 'ms', ...summarize(sessLat), note: where };
      const rawBaseline = { label: 'raw node-pty spawn → onExit', value: median(rawLat), unit: 'ms' };
      results.push(ratioRow({ ...latRow, id: 'pty.spawn_to_exit.p50', target: '<= 1.5x',
        label: 'PTY session spawn→exit of `true` (spawned attached: one request, until the exit frame)' }, rawBaseline, 1.5));
      results.push(ratioRow({ unit: 'ms', ...summarize(twoLat), id: 'pty.spawn_then_attach_to_exit.p50',
        label: 'the same spawned, then attached (two requests)' }, rawBaseline, null));
      const tmuxLatRow = { ...latRow, id: 'pty.spawn_to_exit_vs_tmux.p50', target: '<= 0.5x',
        label: 'PTY session spawn→exit of `true` next to `tmux new-session -d true` (running server)' };
      results.push(hasTmux
        ? ratioRow(tmuxLatRow, { label: 'tmux new-session -d (command returns)', value: median(tmuxLat), unit: 'ms' }, 0.5)
        : { ...tmuxLatRow, note: 'tmux not installed' });
      return results;
    } finally {
      if (hasTmux) spawnSync('tmux', ['-L', tmuxSocket, 'kill-server'], { stdio: 'ignore' });
      await d.stop();
    }
  },
};
