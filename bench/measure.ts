// Small statistics and timing helpers shared by the figure modules of `npm run bench`: pure
// functions, wall-clock process timing, and the measuring routines several figures share (the
// attached `cat` throughput run, RSS). Nothing here lives beyond one call.
import * as fs from 'node:fs';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import type { BenchResult } from './harness';
import type { DaemonClient } from '../src/client';

/** The p-th percentile (0..100) of samples, nearest-rank on a sorted copy; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The median of samples (mean of the two middle values for an even count); NaN when empty. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median with its spread, the shape every row reports for several runs. */
export function summarize(samples: readonly number[]): { value: number; spread: { min: number; max: number; runs: number } } {
  return {
    value: median(samples),
    spread: { min: Math.min(...samples), max: Math.max(...samples), runs: samples.length },
  };
}

/** Wall time in milliseconds of one synchronous child run; throws when it fails. */
export function timeProcessMs(command: string, args: readonly string[], opts: SpawnSyncOptions = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${String(result.stderr).trim()}`);
  }
  return elapsedMs;
}

/**
 * Runs several commands round-robin `runs` times each (interleaved, so a noisy moment hits all
 * of them alike) after `warmups` untimed rounds; returns the wall times per command, in ms.
 */
export function timeProcessesInterleaved(
  commands: ReadonlyArray<{ command: string; args: readonly string[]; opts?: SpawnSyncOptions }>,
  runs: number,
  warmups = 1,
): number[][] {
  const times = commands.map(() => [] as number[]);
  for (let round = 0; round < warmups + runs; round++) {
    commands.forEach((c, i) => {
      const ms = timeProcessMs(c.command, c.args, c.opts);
      if (round >= warmups) times[i].push(ms);
    });
  }
  return times;
}

/**
 * Times several async paths in alternating blocks: each round runs, per path, `warmups` untimed
 * calls then `perBlock` timed ones. A path is measured warm and without another path's aftermath
 * (a tmux server reaping its pane, a forked child being waited for) inside its timings, while the
 * rounds still spread a noisy moment over all of them. Returns the timed values per path.
 */
export async function timeInBlocks(
  paths: ReadonlyArray<() => number | Promise<number>>,
  opts: { rounds: number; perBlock: number; warmups: number },
): Promise<number[][]> {
  const times = paths.map(() => [] as number[]);
  for (let round = 0; round < opts.rounds; round++) {
    for (const [i, run] of paths.entries()) {
      for (let w = 0; w < opts.warmups; w++) await run();
      for (let k = 0; k < opts.perBlock; k++) times[i]!.push(await run());
    }
  }
  return times;
}

/** Builds a row compared to a baseline: ratio = value / baseline, `met` from an upper bound on the ratio. */
export function ratioRow(
  row: Omit<BenchResult, 'ratio' | 'met' | 'baseline'>,
  baseline: NonNullable<BenchResult['baseline']>,
  maxRatio: number | null,
): BenchResult {
  const ratio = row.value / baseline.value;
  return { ...row, baseline, ratio, ...(maxRatio === null ? {} : { met: ratio <= maxRatio }) };
}

/** Writes an mb-MiB file of a fixed byte pattern (the input of the `cat` throughput figures). */
export function writePatternFile(file: string, mb: number): number {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < mb; i++) fs.writeSync(fd, block);
  } finally {
    fs.closeSync(fd);
  }
  return mb * block.length;
}

/** One attached `cat` run: what the reader got, what it was told it missed, and the seconds taken. */
export interface CatRun {
  sessionId: string;
  secs: number;
  gotBytes: number;
  missedBytes: number;
}

/**
 * The throughput routine the pipe-session and tee figures share: a pipe session runs `cat FILE`
 * once told "go" (so the reader is attached before the first byte), `prepare` runs before the
 * attach (e.g. registers a tee), and the clock runs from "go" to the stream's terminal frame.
 * The session is left for the caller to inspect and purge.
 */
export async function attachedCatRun(client: DaemonClient, file: string, prepare?: (sessionId: string) => Promise<void>): Promise<CatRun> {
  const { sessionId } = await client.spawnPipe({ argv: ['sh', '-c', 'read go; exec cat "$0"', file] });
  if (prepare) await prepare(sessionId);
  const att = await client.attachPipe(sessionId);
  const started = process.hrtime.bigint();
  await client.writeStdin(sessionId, 'go\n');
  let gotBytes = 0;
  let missedBytes = 0;
  for await (const f of att) {
    if (f.kind === 'bytes') gotBytes += f.data.length;
    else if (f.kind === 'missed') missedBytes += f.bytes;
    else break;
  }
  return { sessionId, secs: Number(process.hrtime.bigint() - started) / 1e9, gotBytes, missedBytes };
}

/**
 * Raw floor of the pipe `cat` figures: the same gated cat read straight from its pipe, its clock
 * started at "go" as attachedCatRun's is; MiB/s. Throws if it read less than the file (a floor
 * that loses bytes is no floor).
 */
export async function rawCatMiBs(file: string, bytes: number): Promise<number> {
  let got = 0;
  let started = 0n;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', 'read go; exec cat "$0"', file], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout!.on('data', (c: Buffer) => (got += c.length));
    child.once('error', reject);
    child.once('close', () => resolve());
    started = process.hrtime.bigint();
    child.stdin!.end('go\n');
  });
  if (got !== bytes) throw new Error(`raw cat read ${got} of ${bytes} bytes`);
  return bytes / (1024 * 1024) / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Resident set size of a process in MB, from /proc (NaN where there is no /proc or no process). */
export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resolves once cond() is true, polling every intervalMs; rejects naming `what` after timeoutMs. */
export async function pollUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
