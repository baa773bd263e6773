// CPU % and RSS of service processes for SERVICE_LIST / SERVICE_DESCRIBE, read synchronously from
// /proc/<pid>/stat (one small read per pid instead of pidusage's queued async reads: a 100-service
// LIST took ~10 ms). A reading younger than USAGE_FRESH_MS is reused (each /proc read costs ~15 us,
// so back-to-back LISTs of 100 services re-read nothing). CPU % is over the time since the previous
// reading of the same process (within a minute), else since it started — what pidusage reported.
// The history lives as long as the daemon.
import * as fs from 'node:fs';

/** What one reading reports. */
export interface ProcessUsage {
  /** Percent of one CPU since the previous reading (or since start). */
  cpu: number;
  /** Resident set size in bytes. */
  memory: number;
}

/** Ticks per second of /proc's times (USER_HZ: 100 on every Linux the daemon supports). */
const CLOCK_TICKS_PER_SEC = 100;
/** A reading this fresh is answered again instead of reading /proc. */
export const USAGE_FRESH_MS = 1000;
/** A previous reading older than this is ignored (CPU % since start instead). */
const HISTORY_MAX_AGE_MS = 60_000;

/** The fields of /proc/<pid>/stat a reading needs. */
export interface StatTimes {
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot, in clock ticks (with the pid, names one process). */
  startTicks: number;
  /** Resident pages. */
  rssPages: number;
}

/** Parses a stat line (the command in parentheses may hold spaces and ')'); null when malformed. */
export function parseStatTimes(text: string): StatTimes | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3]: utime 14, stime 15, starttime 22, rss 24.
  const cpuTicks = Number(f[14 - 3]) + Number(f[15 - 3]);
  const startTicks = Number(f[22 - 3]);
  const rssPages = Number(f[24 - 3]);
  if (!Number.isFinite(cpuTicks) || !Number.isFinite(startTicks) || !Number.isFinite(rssPages)) return null;
  return { cpuTicks, startTicks, rssPages };
}

/** Page size in bytes, from this process's own RSS in bytes and in pages (Node does not expose it). */
function detectPageSize(): number {
  try {
    const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    const ratio = process.memoryUsage.rss() / pages;
    for (const size of [4096, 16384, 65536]) if (Math.abs(ratio - size) < size / 2) return size;
  } catch {
    // No /proc: nothing will be read anyway.
  }
  return 4096;
}

/** Reads usage of many processes at once; keeps the previous reading of each for CPU %. */
export class UsageReader {
  private readonly history = new Map<number, { startTicks: number; cpuTicks: number; atMs: number; usage: ProcessUsage }>();
  private pageSize = 0;

  /** Usage by pid; a pid that is gone (or unreadable) is left out. */
  read(pids: readonly number[]): Map<number, ProcessUsage> {
    const out = new Map<number, ProcessUsage>();
    if (pids.length === 0) return out;
    if (this.pageSize === 0) this.pageSize = detectPageSize();
    const nowMs = Date.now();
    let uptimeSec = -1;
    for (const pid of pids) {
      const last = this.history.get(pid);
      if (last && nowMs - last.atMs < USAGE_FRESH_MS && nowMs >= last.atMs) {
        out.set(pid, last.usage);
        continue;
      }
      let st: StatTimes | null;
      try {
        st = parseStatTimes(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        this.history.delete(pid);
        continue;
      }
      if (!st) continue;
      const prev = last;
      let cpu: number;
      if (prev && prev.startTicks === st.startTicks && nowMs - prev.atMs <= HISTORY_MAX_AGE_MS && nowMs > prev.atMs) {
        cpu = ((st.cpuTicks - prev.cpuTicks) / CLOCK_TICKS_PER_SEC) / ((nowMs - prev.atMs) / 1000) * 100;
      } else {
        if (uptimeSec < 0) uptimeSec = readUptimeSec();
        const aliveSec = uptimeSec - st.startTicks / CLOCK_TICKS_PER_SEC;
        cpu = aliveSec > 0 ? (st.cpuTicks / CLOCK_TICKS_PER_SEC) / aliveSec * 100 : 0;
      }
      const usage = { cpu: Math.max(0, cpu), memory: st.rssPages * this.pageSize };
      this.history.set(pid, { startTicks: st.startTicks, cpuTicks: st.cpuTicks, atMs: nowMs, usage });
      out.set(pid, usage);
    }
    if (this.history.size > 4 * pids.length + 64) this.prune(nowMs);
    return out;
  }

  private prune(nowMs: number): void {
    for (const [pid, h] of this.history) if (nowMs - h.atMs > HISTORY_MAX_AGE_MS) this.history.delete(pid);
  }
}

function readUptimeSec(): number {
  try {
    return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}
