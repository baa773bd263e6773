// Shared shapes for `npm run bench`: every family contributes figures from bench/figures/*.ts.
// A figure is measured next to a floor or peer in the same run and reported as a ratio.

export interface BenchOptions {
  /** `npm run bench -- --quick`: fewer iterations, whole run under a minute. */
  quick: boolean;
  /** `--smoke` (the harness's own test): tiniest counts, only proves the figure runs. Implies quick. */
  smoke?: boolean;
  /** Scratch directory for daemons and files of this run (removed afterwards). */
  workDir: string;
}

/** One row of the report. */
export interface BenchResult {
  /** Stable id, e.g. "ping.p50". */
  id: string;
  /** Human label, e.g. "PING round trip p50 via the client". */
  label: string;
  /** Median of the runs. */
  value: number;
  /** Unit of value, e.g. "us", "ms", "MiB/s", "MB". */
  unit: string;
  /** Spread of the runs (min and max), when there were several. */
  spread?: { min: number; max: number; runs: number };
  /**
   * The floor or peer measured in the same run, if any ("raw unix-socket echo", "tmux", ...), with
   * the bytes its reader missed where that can happen: a floor that loses bytes is no floor, so such
   * a row is not met either.
   */
  baseline?: { label: string; value: number; unit: string; missedBytes?: number };
  /** value / baseline.value when both exist. */
  ratio?: number;
  /** The target as text, e.g. "<= 2x" or "<= 250 us"; and whether this run met it. */
  target?: string;
  met?: boolean;
  /**
   * Throughput rows: bytes the measured readers (the attached client, a tee's file) missed, summed
   * over the runs. A row whose reader lost bytes is never met, however fast it was (completeRow).
   * Absent where no reader is measured (a detached session, an ingest-only figure).
   */
  missedBytes?: number;
  /** Why a row could not be measured (peer not installed, ...). */
  note?: string;
}

/** A figure family: runs its measurements and returns rows. */
export interface BenchFigure {
  name: string;
  run(opts: BenchOptions): Promise<BenchResult[]>;
}
