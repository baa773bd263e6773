// The process table from `ps`, where there is no /proc (macOS; tests on Linux with a fake, empty
// RUNPM_PROC_ROOT). Only columns both procps and BSD ps know are asked for: pid, ppid, pgid,
// tpgid, stat, lstart (start time to the second, in UTC), comm. BSD ps has no session id, so a
// process's session is its pid when stat says "session leader" (s) and -1 otherwise. Start ticks
// count from the epoch. A whole-table read is reused for SNAPSHOT_TTL_MS (each costs a fork);
// ps failing to run (EMFILE, EAGAIN) throws ProcUnreadableError, never reads as "gone".
import { execFileSync } from 'node:child_process';
import { ProcUnreadableError, errnoOf, type ProcBackend, type ProcStat, type ProcTimes } from './proc-backend';
import { clockTicksPerSecond } from './clock';

const STAT_COLUMNS = 'pid=,ppid=,pgid=,tpgid=,stat=,lstart=,comm=';
const SNAPSHOT_TTL_MS = 50;
/** Largest ps output read (a few thousand processes take well under this). */
const MAX_PS_OUTPUT_BYTES = 64 * 1024 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** One parsed ps line: the stat fields plus the terminal's foreground group. */
interface PsRow extends ProcStat {
  tpgid: number;
}

/** "Thu Dec  3 07:57:55 2026" (UTC) → epoch seconds; NaN when malformed. */
export function parseLstart(words: string[]): number {
  const [, mon, day, time, year] = words;
  const [h, m, s] = (time ?? '').split(':').map(Number);
  const month = MONTHS.indexOf(mon ?? '');
  if (month < 0) return Number.NaN;
  return Date.UTC(Number(year), month, Number(day), h, m, s) / 1000;
}

/** Parses one line of STAT_COLUMNS output; null when malformed. */
export function parsePsStatLine(line: string, ticksPerSecond: number): PsRow | null {
  const w = line.trim().split(/\s+/);
  if (w.length < 11) return null;
  const [pid, ppid, pgrp, tpgid] = w.slice(0, 4).map(Number);
  const stat = w[4];
  const started = parseLstart(w.slice(5, 10));
  if (![pid, ppid, pgrp, tpgid, started].every(Number.isFinite)) return null;
  return {
    pid, ppid, pgrp, tpgid, comm: w.slice(10).join(' '), state: stat[0],
    session: stat.includes('s') ? pid : -1, startTicks: Math.round(started * ticksPerSecond),
  };
}

/** "[DD-][HH:]MM:SS[.cc]" → seconds; NaN when malformed. */
export function parseCpuTime(text: string): number {
  const [days, clock] = text.includes('-') ? text.split('-') : ['0', text];
  const parts = clock.split(':').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isFinite(p))) return Number.NaN;
  return Number(days) * 86400 + parts.reduce((acc, p) => acc * 60 + p, 0);
}

export class PsBackend implements ProcBackend {
  readonly name = 'ps' as const;
  private snapshot: { atMs: number; rows: Map<number, PsRow> } | null = null;

  /** Runs ps; null when it exited 1 with nothing to print (no such pid); throws when it could not run. */
  private ps(args: string[]): string | null {
    try {
      return execFileSync('ps', args, {
        encoding: 'utf8', maxBuffer: MAX_PS_OUTPUT_BYTES, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
      });
    } catch (err) {
      const e = err as { status?: number | null; stdout?: string };
      // ps -p PID exits 1 when PID matches nothing.
      if (e.status === 1 && !e.stdout?.trim()) return null;
      throw new ProcUnreadableError(`the process table (ps ${args.join(' ')})`, errnoOf(err));
    }
  }

  private parseRows(text: string | null): Map<number, PsRow> {
    const rows = new Map<number, PsRow>();
    const hz = clockTicksPerSecond();
    for (const line of (text ?? '').split('\n')) {
      const row = parsePsStatLine(line, hz);
      if (row) rows.set(row.pid, row);
    }
    return rows;
  }

  private row(pid: number): PsRow | null {
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return this.parseRows(this.ps(['-o', STAT_COLUMNS, '-p', String(pid)])).get(pid) ?? null;
  }

  readStat(pid: number): ProcStat | null {
    const row = this.row(pid);
    if (!row) return null;
    const { tpgid: _tpgid, ...stat } = row;
    return stat;
  }

  readTable(): Map<number, ProcStat> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.atMs > SNAPSHOT_TTL_MS || now < this.snapshot.atMs) {
      this.snapshot = { atMs: now, rows: this.parseRows(this.ps(['-A', '-o', STAT_COLUMNS])) };
    }
    return new Map(this.snapshot.rows);
  }

  readTerminalGroup(pid: number): number | null {
    return this.row(pid)?.tpgid ?? null;
  }

  readCmdline(pid: number): string[] | null {
    // ps prints argv joined by spaces: callers only display or search it.
    const text = this.ps(['-o', 'args=', '-p', String(pid)]);
    return text === null ? null : text.trim().split(' ').filter((a) => a !== '');
  }

  readCwd(): string | null {
    return null;
  }

  readEnviron(pid: number): string[] | null {
    // BSD ps appends the environment with -E, procps with the BSD-style "e".
    const args = process.platform === 'darwin' ? ['-wwE', '-o', 'command=', '-p', String(pid)] : ['eww', '-o', 'command=', '-p', String(pid)];
    const text = this.ps(args);
    // The entries follow argv, separated by spaces: KEY=VALUE words are what a tag search needs.
    return text === null ? null : text.trim().split(/\s+/).filter((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  }

  readTimes(pids: readonly number[]): Map<number, ProcTimes> {
    const out = new Map<number, ProcTimes>();
    if (pids.length === 0) return out;
    const text = this.ps(['-o', 'pid=,time=,rss=,lstart=', '-p', pids.join(',')]);
    const hz = clockTicksPerSecond();
    for (const line of (text ?? '').split('\n')) {
      const w = line.trim().split(/\s+/);
      if (w.length < 8) continue;
      const pid = Number(w[0]);
      const cpuSec = parseCpuTime(w[1]);
      const rssKiB = Number(w[2]);
      const started = parseLstart(w.slice(3, 8));
      if (![pid, cpuSec, rssKiB, started].every(Number.isFinite)) continue;
      out.set(pid, { cpuTicks: Math.round(cpuSec * hz), startTicks: Math.round(started * hz), rssBytes: rssKiB * 1024 });
    }
    return out;
  }

  startTicksEpochSeconds(): number {
    return 0;
  }

  secondsSinceStart(startTicks: number): number {
    return Date.now() / 1000 - startTicks / clockTicksPerSecond();
  }
}
