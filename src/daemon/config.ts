// Daemon configuration: every tunable the daemon has, with its default. Built once at start
// from runpmd's flags and never changed while the daemon runs.
import type { ScopePaths } from '../scope/paths';
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/frame';

export interface DaemonConfig {
  paths: ScopePaths;
  /** Largest request frame accepted; larger lengths are refused before buffering. */
  maxFrameBytes: number;
  /** Connections beyond this get UNAVAILABLE and are closed. */
  maxConnections: number;
  /** Sustained requests per second per connection (token bucket; burst = one second's worth). */
  requestsPerSecond: number;
  /** Requests read but not yet answered per connection; at this many the connection is not read. */
  maxInFlightRequests: number;
  /** Bytes of those requests per connection; past it the connection is not read (one frame always fits). */
  maxQueuedRequestBytes: number;
  /** Response bytes the kernel has not taken yet, per connection; past it no further request is answered (nor read) until they drain. */
  responseBudgetBytes: number;
  /** Bytes all connections together may hold in incomplete frames; past it those connections are not read. */
  partialFrameBudgetBytes: number;
  /** A connection holding an incomplete frame this long (while the daemon reads it) is closed, ms. */
  frameDeadlineMs: number;
  /** Capacity of each session output ring, bytes. */
  ringBytes: number;
  /** Ring bytes exited sessions may hold in total before the oldest exited sessions are dropped. */
  exitedRingBudgetBytes: number;
  /** Exited sessions kept at most (the newest by exit time); older ones are reaped. */
  keepExited: number;
  /** How long an exited session is kept before it is reaped, ms. */
  keepExitedMs: number;
  /** Size of the ENOSPC emergency reserve file; 0 disables it. */
  reserveBytes: number;
  /** How often a released (or degraded) reserve is re-armed if space is back, ms; 0 disables. */
  reserveRecheckMs: number;
  /** How often the zombie reaper runs, ms; 0 disables it. */
  reaperIntervalMs: number;
  /** Default service log rotation: size limit per file and rotated files kept. */
  logMaxBytes: number;
  logMaxFiles: number;
  /** A session observer's full BLOCK queue nobody takes from is cut loose after this, ms (0 = never). */
  observerStallMs: number;
  /** A lossless attached reader that makes no progress this long while its child is held is switched to drop-oldest, ms. */
  attachStallTimeoutMs: number;
  /** How often PROCESS observers look for a session's descendants, ms. */
  observerPollMs: number;
  /** Environment entries every spawned session and service gets beneath its own (ordered, last wins). */
  defaultEnv: Array<{ key: string; value: string }>;
  /** Restore the saved service snapshot at start (boot units use this). */
  resurrect: boolean;
  /** Prometheus endpoint HOST:PORT, or empty for none. */
  metricsAddress: string;
  debug: boolean;
}

export const DEFAULTS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxConnections: 256,
  requestsPerSecond: 50_000,
  maxInFlightRequests: 64,
  maxQueuedRequestBytes: 1024 * 1024,
  responseBudgetBytes: 256 * 1024,
  partialFrameBudgetBytes: 64 * 1024 * 1024,
  frameDeadlineMs: 10_000,
  ringBytes: 1024 * 1024,
  exitedRingBudgetBytes: 256 * 1024 * 1024,
  keepExited: 100,
  keepExitedMs: 3_600_000,
  reserveBytes: 32 * 1024 * 1024,
  reserveRecheckMs: 30_000,
  reaperIntervalMs: 30_000,
  logMaxBytes: 10 * 1024 * 1024,
  logMaxFiles: 5,
  observerStallMs: 30_000,
  attachStallTimeoutMs: 10_000,
  observerPollMs: 100,
} as const;
