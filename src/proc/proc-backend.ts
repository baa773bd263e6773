// What a source of process facts provides: Linux's /proc (procfs-backend.ts), or `ps` where there
// is no /proc (ps-backend.ts, macOS); process-table.ts picks one per process. Every read tells "no such
// process" (null) apart from "could not look" (ProcUnreadableError: EMFILE, EACCES, ps failing...):
// a caller that cannot look must never conclude that a process is dead.
import { DaemonError } from '../wire/errors';
import { StatusCode } from '../wire/proto';

/** One process as the kernel reports it, the fields we use. */
export interface ProcStat {
  pid: number;
  /** Executable name (comm), at most 15 characters on Linux, as the kernel keeps it. */
  comm: string;
  /** Single-letter state: R, S, D, T, t, Z (zombie), X (dead), I... */
  state: string;
  ppid: number;
  pgrp: number;
  /** Session id (-1 when the source cannot tell; `ps` on macOS only says "session leader"). */
  session: number;
  /** Start time in clock ticks (since boot on /proc, since the epoch from ps): with the pid, the process's identity. */
  startTicks: number;
}

/** CPU time and memory of one process (for CPU % and RSS). */
export interface ProcTimes {
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  startTicks: number;
  rssBytes: number;
}

/** errno codes of a read that failed for lack of a resource (answered RESOURCE_EXHAUSTED). */
const EXHAUSTED_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN']);

/**
 * Raised when the process table could not be read (no fd left, permission, ps failing): the state
 * is "unknown", never "dead". RESOURCE_EXHAUSTED when a resource ran out, UNAVAILABLE otherwise.
 */
export class ProcUnreadableError extends DaemonError {
  constructor(what: string, readonly errno: string) {
    super(EXHAUSTED_ERRNOS.has(errno) ? StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED : StatusCode.STATUS_CODE_UNAVAILABLE,
      `cannot read ${what}: ${errno} (the process state is unknown, so nothing was changed)`);
    this.name = 'ProcUnreadableError';
  }
}

/** What a process-table source provides; every method throws ProcUnreadableError when it cannot look. */
export interface ProcBackend {
  readonly name: 'procfs' | 'ps';
  /** One process, or null when there is no such process. */
  readStat(pid: number): ProcStat | null;
  /** Every process now (those that vanish while reading are left out). */
  readTable(): Map<number, ProcStat>;
  /** Foreground group of pid's controlling terminal (-1 without one), null when pid is gone. */
  readTerminalGroup(pid: number): number | null;
  /** argv of pid; null when gone or not readable (kernel threads and zombies give []). */
  readCmdline(pid: number): string[] | null;
  /** Working directory; null when gone, not ours, or not available from this source. */
  readCwd(pid: number): string | null;
  /** "KEY=VALUE" entries of pid's initial environment; null when gone or not ours to read. */
  readEnviron(pid: number): string[] | null;
  /** CPU time and RSS by pid; pids that are gone are left out. */
  readTimes(pids: readonly number[]): Map<number, ProcTimes>;
  /** Epoch seconds at which startTicks count from (boot time on /proc, 0 for ps). */
  startTicksEpochSeconds(): number;
  /** Seconds since a process that started at startTicks started (to a tick on /proc). */
  secondsSinceStart(startTicks: number): number;
}

/** errno codes that mean the process (or its /proc entry) does not exist. */
const GONE_CODES = new Set(['ENOENT', 'ESRCH']);

/** True when err says "no such process"; any other failure means we could not look. */
export function isGoneError(err: unknown): boolean {
  return GONE_CODES.has((err as NodeJS.ErrnoException).code ?? '');
}

/** The errno of a failed read (EMFILE, EACCES...), or the message when there is none. */
export function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
