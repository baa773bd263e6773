// Small statistics and timing helpers shared by the figure modules of `npm run bench`.
// Pure functions plus wall-clock process timing; nothing here lives beyond one call.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import type { BenchResult } from './harness';

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

/** Builds a row compared to a baseline: ratio = value / baseline, `met` from an upper bound on the ratio. */
export function ratioRow(
  row: Omit<BenchResult, 'ratio' | 'met' | 'baseline'>,
  baseline: { label: string; value: number; unit: string },
  maxRatio: number | null,
): BenchResult {
  const ratio = row.value / baseline.value;
  return { ...row, baseline, ratio, ...(maxRatio === null ? {} : { met: ratio <= maxRatio }) };
}
