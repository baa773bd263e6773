// CPU % and RSS of processes (service LIST/DESCRIBE, registry LIST with usage), from the process
// table's CPU times (one small /proc read per pid; one ps for all where there is no /proc). A
// reading younger than USAGE_FRESH_MS is reused (back-to-back LISTs of 100 services re-read
// nothing). CPU % is over the time since the previous reading of the same process (within a
// minute), else since it started, as pidusage reports it. A reader's history lives as long as it.
import { ProcUnreadableError } from './proc-backend';
import { procBackend } from './process-table';
import { clockTicksPerSecond } from './clock';

export { parseStatTimes } from './procfs-backend';

/** What one reading reports. */
export interface ProcessUsage {
  /** Percent of one CPU since the previous reading (or since start). */
  cpu: number;
  /** Resident set size in bytes. */
  memory: number;
}

/** A reading this fresh is answered again instead of reading the table. */
export const USAGE_FRESH_MS = 1000;
/** A previous reading older than this is ignored (CPU % since start instead). */
const HISTORY_MAX_AGE_MS = 60_000;

interface Reading {
  startTicks: number;
  cpuTicks: number;
  atMs: number;
  usage: ProcessUsage;
}

/** Reads usage of many processes at once; keeps the previous reading of each for CPU %. */
export class UsageReader {
  private readonly history = new Map<number, Reading>();

  /** Usage by pid; a pid that is gone, or a table that cannot be read now, is left out. */
  read(pids: readonly number[]): Map<number, ProcessUsage> {
    const out = new Map<number, ProcessUsage>();
    const nowMs = Date.now();
    const stale: number[] = [];
    for (const pid of pids) {
      const last = this.history.get(pid);
      if (last && nowMs - last.atMs < USAGE_FRESH_MS && nowMs >= last.atMs) out.set(pid, last.usage);
      else stale.push(pid);
    }
    if (stale.length === 0) return out;
    try {
      this.readInto(stale, nowMs, out);
    } catch (err) {
      // Shown as zeros; nothing is concluded from a table that cannot be read.
      if (!(err instanceof ProcUnreadableError)) throw err;
    }
    if (this.history.size > 4 * pids.length + 64) this.prune(nowMs);
    return out;
  }

  private readInto(pids: number[], nowMs: number, out: Map<number, ProcessUsage>): void {
    const backend = procBackend();
    const times = backend.readTimes(pids);
    const hz = clockTicksPerSecond();
    for (const pid of pids) {
      const t = times.get(pid);
      if (!t) {
        this.history.delete(pid);
        continue;
      }
      const prev = this.history.get(pid);
      let cpu: number;
      if (prev && prev.startTicks === t.startTicks && nowMs - prev.atMs <= HISTORY_MAX_AGE_MS && nowMs > prev.atMs) {
        cpu = ((t.cpuTicks - prev.cpuTicks) / hz) / ((nowMs - prev.atMs) / 1000) * 100;
      } else {
        const aliveSec = backend.secondsSinceStart(t.startTicks);
        cpu = aliveSec > 0 ? (t.cpuTicks / hz) / aliveSec * 100 : 0;
      }
      const usage = { cpu: Math.max(0, cpu), memory: t.rssBytes };
      this.history.set(pid, { startTicks: t.startTicks, cpuTicks: t.cpuTicks, atMs: nowMs, usage });
      out.set(pid, usage);
    }
  }

  private prune(nowMs: number): void {
    for (const [pid, h] of this.history) if (nowMs - h.atMs > HISTORY_MAX_AGE_MS) this.history.delete(pid);
  }
}
