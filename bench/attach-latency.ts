// Key latency of an attached terminal during an output flood (issue 18.3), measured the way a person
// sees it: a pane of a private tmux server is the person's terminal; in it an attach client (runpm
// attach, tmux attach of a second server, dtach -a) shows a bash that `cat`s a 100 MB file. Mid-flood
// ^C (or the detach key) is typed with send-keys; the time until the pane shows bash's prompt (or the
// outer shell's, after a detach) is the latency. The pane is read through a tmux control client of
// another session of the same server (capture-pane as a command: no process per poll, no %output of
// the flood). Every server, daemon and file lives under workDir and is stopped by the caller.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { BenchOptions, BenchResult } from './harness';
import { RUNPM, startBenchDaemon, type BenchDaemon } from './bench-daemon';
import { median, ratioRow, summarize } from './measure';
import { completeRow, formatTable } from './report';
import { TmuxControlClient, TmuxServer, tmuxQuote } from './tmux-control';

/** The prompt of the flooding bash (inside the attach) and of the person's shell (outside it). */
const INNER_PROMPT = 'RDY> ';
const OUTER_PROMPT = 'OUT> ';
const PANE_ROWS = 30;
const PANE_COLS = 100;
/** How long the flood runs before the key is typed: long enough for every buffer on the way to fill. */
const FLOOD_LEAD_MS = 400;
/** A poll of the pane: a control-client command round trip, so about every millisecond. */
const POLL_MS = 1;
const STEP_TIMEOUT_MS = 30_000;

export type AttachPeer = 'runpm' | 'tmux' | 'dtach';

/** One peer's samples, in ms. */
export interface LatencySamples {
  interrupt: number[];
  detach: number[];
  /** Bytes of the flood the pane showed after the ^C was typed (what was in flight), per trial. */
  afterInterrupt: number[];
}

/** A text file of `mb` MiB in 64-byte lines, each numbered (so the pane shows how far the flood got). */
export function writeFloodFile(file: string, mb: number): void {
  const fd = fs.openSync(file, 'w');
  const filler = 'abcdefghij'.repeat(5).slice(0, 47);
  try {
    for (let i = 0, line = 0; i < mb; i++) {
      const lines: string[] = [];
      for (let k = 0; k < 1024 * 1024 / FLOOD_LINE_BYTES; k++) lines.push(`flood ${String(line++).padStart(9, '0')} ${filler}\n`);
      fs.writeSync(fd, lines.join(''));
    }
  } finally {
    fs.closeSync(fd);
  }
}

const FLOOD_LINE_BYTES = 64;

/** The number of the last flood line a capture shows (0 if none). */
function lastFloodLine(capture: string): number {
  return Math.max(0, ...[...capture.matchAll(/flood (\d{9})/g)].map((m) => Number(m[1])));
}

function lastLine(capture: string): string {
  const lines = capture.replace(/\s+$/, '').split('\n');
  return lines[lines.length - 1] ?? '';
}

/** The person's terminal: a pane running a plain bash, and a control client to read it. */
class OuterPane {
  private constructor(readonly server: TmuxServer, readonly control: TmuxControlClient) {}

  static async start(workDir: string, env: Record<string, string>): Promise<OuterPane> {
    const server = TmuxServer.start(path.join(workDir, 'outer.sock'));
    const vars = Object.entries({ ...env, PS1: OUTER_PROMPT }).map(([k, v]) => `${k}=${tmuxQuote(v)}`).join(' ');
    server.run('new-session', '-d', '-s', 'main', '-x', String(PANE_COLS), '-y', String(PANE_ROWS),
      `env -u TMUX ${vars} bash --norc --noprofile`);
    server.run('set-option', '-g', 'status', 'off');
    const control = await TmuxControlClient.attach(server, 'keep');
    const pane = new OuterPane(server, control);
    await pane.until((t) => lastLine(t) === OUTER_PROMPT.trimEnd(), 'the outer shell');
    return pane;
  }

  capture(): Promise<string> {
    return this.control.command('capture-pane -p -t main').then((lines) => lines.join('\n'));
  }

  /** send-keys: literal text (-l) or key names. */
  async type(text: string): Promise<void> {
    await this.control.command(`send-keys -t main -l ${tmuxQuote(text)}`);
  }

  async keys(...names: string[]): Promise<void> {
    await this.control.command(`send-keys -t main ${names.join(' ')}`);
  }

  /** Polls the pane until `ready`; resolves with the ms since `t0` (hrtime) when it was. */
  async until(ready: (text: string) => boolean, what: string, t0 = process.hrtime.bigint()): Promise<number> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const text = await this.capture();
      if (ready(text)) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the pane shows:\n${text}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async clear(prompt: string): Promise<void> {
    await this.type('clear');
    await this.keys('Enter');
    await this.until((t) => t.trim() === prompt.trimEnd(), 'a cleared screen');
  }

  kill(): void {
    this.control.close();
    this.server.kill();
  }
}

/** How one peer attaches and detaches, and the inner session it floods in. */
interface Peer {
  attachCommand: string;
  detachKeys: string[];
  stop(): void;
}

const innerEnv = { PS1: INNER_PROMPT, TERM: 'xterm-256color' };

async function runpmPeer(d: BenchDaemon): Promise<Peer> {
  const { sessionId } = await d.client.spawnPty({ argv: ['bash', '--norc', '--noprofile'], env: innerEnv, rows: PANE_ROWS, cols: PANE_COLS });
  return {
    attachCommand: `${process.execPath} ${RUNPM} attach ${sessionId}`,
    detachKeys: ['-H', '1c'],
    stop: () => undefined,
  };
}

function tmuxPeer(workDir: string): Peer {
  const inner = TmuxServer.start(path.join(workDir, 'inner.sock'));
  const vars = Object.entries(innerEnv).map(([k, v]) => `${k}=${tmuxQuote(v)}`).join(' ');
  inner.run('new-session', '-d', '-s', 's', '-x', String(PANE_COLS), '-y', String(PANE_ROWS), `env ${vars} bash --norc --noprofile`);
  inner.run('set-option', '-g', 'status', 'off');
  return {
    attachCommand: `tmux -S ${inner.socket} attach -t s`,
    detachKeys: ['C-b', 'd'],
    stop: () => inner.kill(),
  };
}

function dtachPeer(workDir: string): Peer {
  const sock = path.join(workDir, 'dtach.sock');
  const r = spawnSync('dtach', ['-n', sock, '-E', 'env', ...Object.entries(innerEnv).map(([k, v]) => `${k}=${v}`), 'bash', '--norc', '--noprofile'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dtach -n: ${r.stderr}`);
  return {
    attachCommand: `dtach -a ${sock} -r winch`,
    detachKeys: ['-H', '1c'],
    stop: () => {
      // dtach's master exits when its bash does.
      spawnSync('sh', ['-c', `fuser -k ${sock} 2>/dev/null`]);
    },
  };
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs `trials` ^C trials and `trials` detach trials for one peer in one outer pane: attach, start
 * the flood, wait, type the key, time until the prompt shows. The pane and peer are stopped after.
 */
export async function measurePeer(kind: AttachPeer, workDir: string, floodFile: string, trials: number, d: BenchDaemon | null): Promise<LatencySamples> {
  const dir = fs.mkdtempSync(path.join(workDir, `${kind}-`));
  const env: Record<string, string> = d ? { RUNPM_HOME: d.home, RUNPM_SCOPE: d.scope } : {};
  const pane = await OuterPane.start(dir, env);
  let peer: Peer | null = null;
  const samples: LatencySamples = { interrupt: [], detach: [], afterInterrupt: [] };
  try {
    peer = kind === 'runpm' ? await runpmPeer(d!) : kind === 'tmux' ? tmuxPeer(dir) : dtachPeer(dir);
    const attach = async () => {
      await pane.type(peer!.attachCommand);
      await pane.keys('Enter');
      await pane.until((t) => lastLine(t).startsWith(INNER_PROMPT.trimEnd()), `the ${kind} attach`);
      await pane.clear(INNER_PROMPT);
    };
    const flood = async () => {
      await pane.type(`cat ${floodFile}`);
      await pane.keys('Enter');
      await pane.until((t) => /^flood \d{9} /m.test(t), 'the flood on screen');
      await new Promise((r) => setTimeout(r, FLOOD_LEAD_MS));
    };
    const interrupted = (t: string) => lastLine(t) === INNER_PROMPT.trimEnd() && /flood/.test(t);
    await attach();
    for (let i = 0; i < trials; i++) {
      await flood();
      const before = lastFloodLine(await pane.capture());
      const t0 = process.hrtime.bigint();
      await pane.keys('C-c');
      samples.interrupt.push(await pane.until(interrupted, `${kind}: the prompt after ^C`, t0));
      samples.afterInterrupt.push((lastFloodLine(await pane.capture()) - before) * FLOOD_LINE_BYTES);
      await pane.clear(INNER_PROMPT);
    }
    for (let i = 0; i < trials; i++) {
      await flood();
      const t0 = process.hrtime.bigint();
      await pane.keys(...peer.detachKeys);
      samples.detach.push(await pane.until((t) => lastLine(t) === OUTER_PROMPT.trimEnd(), `${kind}: the outer prompt after the detach`, t0));
      // The flood went on meanwhile: back in, stop it, and start from a clean screen.
      await pane.clear(OUTER_PROMPT);
      await pane.type(peer.attachCommand);
      await pane.keys('Enter');
      await pane.until((t) => /flood/.test(t), `the ${kind} re-attach`);
      await pane.keys('C-c');
      await pane.until(interrupted, `${kind}: the prompt after the re-attach`);
      await pane.clear(INNER_PROMPT);
    }
    return samples;
  } finally {
    pane.kill();
    peer?.stop();
  }
}

const FLOOD_MB = 100;
/** The issue's bound: a key acts within 50 ms during the flood. */
const TARGET_MS = 50;

/**
 * The rows of the PTY figure (bench/figures/pty-sessions.ts) for key latency: ^C and the detach key,
 * runpm attach next to tmux attach and dtach -a, all in the same run.
 */
export async function attachLatencyRows(opts: BenchOptions, peers: AttachPeer[] = ['runpm', 'tmux', 'dtach']): Promise<BenchResult[]> {
  if (!hasTool('tmux')) {
    return [{ id: 'attach.flood_interrupt_vs_tmux.p50', label: '^C during a 100 MB flood', value: NaN, unit: 'ms', note: 'tmux not installed: the terminal of this figure' }];
  }
  const trials = opts.smoke ? 1 : opts.quick ? 3 : 7;
  const file = path.join(opts.workDir, 'flood.txt');
  writeFloodFile(file, FLOOD_MB);
  const d = await startBenchDaemon(opts.workDir, 'attach');
  const got: Partial<Record<AttachPeer, LatencySamples>> = {};
  try {
    for (const p of peers) {
      if (p === 'dtach' && !hasTool('dtach')) continue;
      got[p] = await measurePeer(p, opts.workDir, file, trials, p === 'runpm' ? d : null);
    }
  } finally {
    await d.stop();
    fs.rmSync(file, { force: true });
  }
  const where = `a bash in the session cats ${FLOOD_MB} MB; the key is typed into a ${PANE_COLS}x${PANE_ROWS} tmux pane ${FLOOD_LEAD_MS} ms into the flood; until the pane shows the prompt`;
  const rows: BenchResult[] = [];
  const ours = got.runpm;
  if (!ours) return rows;
  for (const key of ['interrupt', 'detach'] as const) {
    const what = key === 'interrupt' ? '^C during a 100 MB flood, until bash\'s prompt shows' : 'the detach key during a 100 MB flood, until the outer shell\'s prompt shows';
    const shown = (s: LatencySamples) => `${(median(s.afterInterrupt) / 1024).toFixed(0)} KiB`;
    const inFlight = key === 'interrupt'
      ? `; the pane showed a median ${shown(ours)} of the flood after the ^C${got.tmux ? ` (tmux ${shown(got.tmux)}` : ''}${got.dtach ? `, dtach ${shown(got.dtach)})` : got.tmux ? ')' : ''}`
      : '';
    const row = { unit: 'ms', ...summarize(ours[key]), label: `runpm attach: ${what}`, target: `<= ${TARGET_MS} ms`, note: `${where}${inFlight}` };
    const met = row.value <= TARGET_MS;
    const id = `attach.flood_${key}_vs_tmux.p50`;
    rows.push(got.tmux
      ? { ...ratioRow({ ...row, id }, { label: 'tmux attach (a second tmux server)', value: median(got.tmux[key]), unit: 'ms' }, null), met }
      : { ...row, id, met, note: `${row.note}; tmux peer not measured` });
    if (got.dtach) {
      rows.push(ratioRow({ unit: 'ms', ...summarize(ours[key]), id: `attach.flood_${key}_vs_dtach.p50`, label: `the same next to dtach -a (no target: dtach passes every byte too)` },
        { label: 'dtach -a', value: median(got.dtach[key]), unit: 'ms' }, null));
    }
  }
  return rows;
}

// `node dist/bench/attach-latency.js [--quick] [runpm,tmux,dtach]`: these rows alone, printed.
if (require.main === module) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const peers = (args.find((a) => !a.startsWith('--'))?.split(',') ?? ['runpm', 'tmux', 'dtach']) as AttachPeer[];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpb-lat-'));
  attachLatencyRows({ quick, workDir }, peers).then((rows) => {
    process.stdout.write(`${formatTable(rows.map(completeRow))}\n`);
  }, (err: Error) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }).finally(() => fs.rmSync(workDir, { recursive: true, force: true }));
}
