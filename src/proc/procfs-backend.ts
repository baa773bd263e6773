// The Linux process table from /proc (or a fake root in tests): stat lines, cmdline, cwd, environ.
// A missing entry (ENOENT, ESRCH) is a process that is gone; any other failure (EMFILE, EACCES,
// a stat that is a directory in a fake root) throws ProcUnreadableError. Caches nothing but the
// boot time, which never changes while we run.
import * as fs from 'node:fs';
import { clockTicksPerSecond } from './clock';
import { ProcUnreadableError, errnoOf, isGoneError, type ProcBackend, type ProcStat, type ProcTimes } from './proc-backend';

/** Splits a stat line into pid, comm and the fields after comm; null when malformed. */
function splitStat(text: string): { pid: number; comm: string; rest: string[] } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number.parseInt(text.slice(0, open), 10);
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3]; starttime is field 22.
  if (rest.length < 20 || !Number.isInteger(pid)) return null;
  return { pid, comm: text.slice(open + 1, close), rest };
}

/** Parses the text of /proc/<pid>/stat; null when malformed. comm may itself contain ") ". */
export function parseProcStat(text: string): ProcStat | null {
  const split = splitStat(text);
  if (!split) return null;
  const { pid, comm, rest } = split;
  return {
    pid, comm, state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]), session: Number(rest[3]), startTicks: Number(rest[19]),
  };
}

/** Parses tpgid (field 8: the foreground group of the process's terminal, -1 without one). */
export function parseTerminalGroup(text: string): number | null {
  const split = splitStat(text);
  return split ? Number(split.rest[5]) : null;
}

/** utime + stime (fields 14, 15), starttime (22) and rss in pages (24); null when malformed. */
export function parseStatTimes(text: string): { cpuTicks: number; startTicks: number; rssPages: number } | null {
  const split = splitStat(text);
  if (!split) return null;
  const f = split.rest;
  const cpuTicks = Number(f[14 - 3]) + Number(f[15 - 3]);
  const startTicks = Number(f[22 - 3]);
  const rssPages = Number(f[24 - 3]);
  if (!Number.isFinite(cpuTicks) || !Number.isFinite(startTicks) || !Number.isFinite(rssPages)) return null;
  return { cpuTicks, startTicks, rssPages };
}

export class ProcfsBackend implements ProcBackend {
  readonly name = 'procfs' as const;
  private bootTime: number | null = null;
  private pageSize = 0;

  constructor(private readonly root: string) {}

  /** The text of a /proc file; null when the process is gone; throws when we could not look. */
  private read(rel: string, encoding: BufferEncoding = 'utf8'): string | null {
    try {
      return fs.readFileSync(`${this.root}/${rel}`, encoding);
    } catch (err) {
      if (isGoneError(err)) return null;
      throw new ProcUnreadableError(`${this.root}/${rel}`, errnoOf(err));
    }
  }

  private statText(pid: number): string | null {
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return this.read(`${pid}/stat`);
  }

  readStat(pid: number): ProcStat | null {
    const text = this.statText(pid);
    return text === null ? null : parseProcStat(text);
  }

  readTable(): Map<number, ProcStat> {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.root);
    } catch (err) {
      throw new ProcUnreadableError(this.root, errnoOf(err));
    }
    const table = new Map<number, ProcStat>();
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let stat: ProcStat | null;
      try {
        stat = this.readStat(pid);
      } catch (err) {
        // Another user's process under hidepid=1 is not ours to signal anyway; a read that failed
        // for lack of fds makes the whole snapshot unknown.
        if ((err as ProcUnreadableError).errno === 'EACCES' || (err as ProcUnreadableError).errno === 'EPERM') continue;
        throw err;
      }
      if (stat) table.set(pid, stat);
    }
    return table;
  }

  readTerminalGroup(pid: number): number | null {
    const text = this.statText(pid);
    return text === null ? null : parseTerminalGroup(text);
  }

  readCmdline(pid: number): string[] | null {
    const raw = this.read(`${pid}/cmdline`);
    if (raw === null) return null;
    const parts = raw.split('\0');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }

  readCwd(pid: number): string | null {
    try {
      return fs.readlinkSync(`${this.root}/${pid}/cwd`);
    } catch {
      return null;
    }
  }

  readEnviron(pid: number): string[] | null {
    try {
      return fs.readFileSync(`${this.root}/${pid}/environ`, 'latin1').split('\0').filter((e) => e !== '');
    } catch (err) {
      // Another user's process (EACCES) is not ours to read: as good as gone for a tag search.
      if (isGoneError(err) || (err as NodeJS.ErrnoException).code === 'EACCES') return null;
      throw new ProcUnreadableError(`${this.root}/${pid}/environ`, errnoOf(err));
    }
  }

  readTimes(pids: readonly number[]): Map<number, ProcTimes> {
    if (this.pageSize === 0) this.pageSize = this.detectPageSize();
    const out = new Map<number, ProcTimes>();
    for (const pid of pids) {
      const text = this.statText(pid);
      const t = text === null ? null : parseStatTimes(text);
      if (t) out.set(pid, { cpuTicks: t.cpuTicks, startTicks: t.startTicks, rssBytes: t.rssPages * this.pageSize });
    }
    return out;
  }

  startTicksEpochSeconds(): number {
    if (this.bootTime === null) {
      const match = /^btime (\d+)$/m.exec(this.read('stat') ?? '');
      this.bootTime = match ? Number(match[1]) : 0;
    }
    return this.bootTime;
  }

  secondsSinceStart(startTicks: number): number {
    // btime is whole seconds; the uptime clock is what start ticks count in.
    const uptime = Number((this.read('uptime') ?? '').split(' ')[0]);
    return uptime - startTicks / clockTicksPerSecond();
  }

  /** Page size in bytes, from this process's own RSS in bytes and in pages (Node does not expose it). */
  private detectPageSize(): number {
    const pages = Number((this.read('self/statm') ?? '').split(' ')[1]);
    const ratio = process.memoryUsage.rss() / pages;
    for (const size of [4096, 16384, 65536]) if (Math.abs(ratio - size) < size / 2) return size;
    return 4096;
  }
}
