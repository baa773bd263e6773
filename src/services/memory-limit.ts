// pm2's max_memory_restart: every MEMORY_CHECK_MS the resident memory of each limited service's
// run is summed over its whole tree (its process group, session and descendants: a wrapper shell's
// child counts) and a run over its limit is restarted. pm2 samples every 30 s; a leak can grow
// far in 30 s, so the daemon looks each second (one read of the process table for all services,
// only while some service has a limit).
import type { Logger } from '../daemon/log';
import { collectGroupTree } from '../proc/kill-escalation';
import { ProcUnreadableError } from '../proc/proc-backend';
import { procBackend, readLiveProcessTable } from '../proc/process-table';
import type { Service } from './service';

export const MEMORY_CHECK_MS = 1000;

/** Resident bytes of a run's whole tree, from one table snapshot. */
export function treeRssBytes(rootPid: number, table: ReturnType<typeof readLiveProcessTable>): number {
  const pids = collectGroupTree(rootPid, table).map((p) => p.pid);
  let total = 0;
  for (const t of procBackend().readTimes(pids).values()) total += t.rssBytes;
  return total;
}

export class MemoryLimits {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly services: () => Service[], private readonly log: Logger) {}

  start(): void {
    this.timer = setInterval(() => this.check(), MEMORY_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: restarts every limited running service whose tree is over its limit. */
  check(): void {
    const limited = this.services().filter((s) => s.row.config.maxMemoryRestartBytes > 0 && s.running && s.row.status === 'online');
    if (limited.length === 0) return;
    let table;
    try {
      table = readLiveProcessTable();
    } catch (err) {
      // Nothing is concluded from a table that cannot be read; the next round looks again.
      if (err instanceof ProcUnreadableError) return;
      throw err;
    }
    for (const svc of limited) {
      const limit = svc.row.config.maxMemoryRestartBytes;
      let rss: number;
      try {
        rss = treeRssBytes(svc.row.pid, table);
      } catch (err) {
        if (err instanceof ProcUnreadableError) continue;
        throw err;
      }
      if (rss <= limit) continue;
      const why = `max_memory_restart: its processes use ${rss} bytes, over ${limit}`;
      this.log.warn(`service ${svc.name}: ${why}`);
      void svc.restartNow(why).catch((err) => this.log.error(`service ${svc.name}: restart after ${why} failed: ${(err as Error).message}`));
    }
  }
}
