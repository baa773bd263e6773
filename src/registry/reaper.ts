// The registry's reaper: runs the KillZombies logic every intervalMs on an unref'd timer and logs
// and publishes what it did, from the daemon's start (daemon/subsystems.ts) until stop().
import type { Logger } from '../daemon/log';
import type { EventBus } from '../events/event-bus';
import type { Registry, ZombieOutcome } from './registry';

/** Where reaping is reported: the daemon log and the event bus. */
export interface ReapReport {
  log: Logger;
  events: EventBus;
}

/** Logs and publishes (zombie.reaped events) what a real KillZombies run did. */
export function reportReaped(report: ReapReport, outcomes: ZombieOutcome[], by: string): void {
  for (const o of outcomes) {
    report.log.info(`${by}: unregistered pid ${o.pid} (${o.command})${o.killed ? ' and killed its tree' : ''}: ${o.reason}`);
    report.events.emit('zombie.reaped', { pid: o.pid, status: o.kind, detail: o.reason });
  }
}

/** At daemon start, after the database is open: drops the rows whose process is gone. */
export function dropDeadRowsAtStart(registry: Registry, log: Logger): void {
  // A row whose process cannot be checked now (no fd left) is kept: it may well be alive.
  for (const row of registry.dropDeadRows()) {
    log.info(`registry: dropped pid ${row.pid} (${row.command}) at start: its process is gone`);
  }
}

/** Starts the periodic reaper (none when intervalMs is 0); stop() ends it, a run in flight finishes. */
export function startReaper(registry: Registry, report: ReapReport, intervalMs: number): { stop(): void } {
  let running = false;
  let stopped = false;
  const reap = async () => {
    if (running || stopped) return;
    running = true;
    try {
      const { outcomes, unknown } = await registry.killZombies(false);
      reportReaped(report, outcomes, 'reaper');
      if (unknown > 0) report.log.warn(`reaper: ${unknown} row(s) could not be checked (the process table is unreadable now); kept as they are`);
    } catch (err) {
      report.log.error(`reaper failed: ${(err as Error).message}`);
    } finally {
      running = false;
    }
  };
  const timer = intervalMs > 0 ? setInterval(() => void reap(), intervalMs) : null;
  timer?.unref();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearInterval(timer);
    },
  };
}
