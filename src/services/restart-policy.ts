// What happens after a service's run ended on its own, with pm2's meaning (pm2's God.handleExit):
// a run shorter than min_uptime is an unstable restart; max_restarts of them in a row end the
// service errored; stop_exit_codes and autorestart false leave it stopped; otherwise the next run
// starts after restart_delay (fixed, pm2's default 0: at once) or after exp_backoff_restart_delay
// (x1.5 per restart, capped at 15 s, back to the start once a run stayed up 30 s).
import type { ServiceConfigData } from './service-config';

/** pm2's defaults (lib/God.js, constants.js). */
export const DEFAULT_MIN_UPTIME_MS = 1000;
export const DEFAULT_MAX_RESTARTS = 16;
export const EXP_BACKOFF_CAP_MS = 15_000;
export const EXP_BACKOFF_RESET_AFTER_MS = 30_000;
export const EXP_BACKOFF_FACTOR = 1.5;
/**
 * Beyond pm2 (whose crash loop with restart_delay 0 spins at full speed when max_restarts is high):
 * past this many unstable restarts in a row, a default-policy service waits SAFETY_BACKOFF_START_MS,
 * x1.5 each time, capped at 15 s. pm2's default limit (16) ends a loop before this starts.
 */
export const SAFETY_BACKOFF_AFTER = DEFAULT_MAX_RESTARTS;
export const SAFETY_BACKOFF_START_MS = 100;

/** The restart counters a decision reads and updates. */
export interface RestartCounters {
  unstableRestarts: number;
  /** The delay before the pending or last automatic restart (pm2's prev_restart_delay). */
  backoffMs: number;
}

export type ExitDecision =
  | { action: 'stop'; reason: string }
  | { action: 'errored'; reason: string }
  | { action: 'restart'; delayMs: number };

/** min_uptime in effect (0 → 1000 ms). */
export function minUptimeOf(c: ServiceConfigData): number {
  return c.minUptimeMs || DEFAULT_MIN_UPTIME_MS;
}

/** max_restarts in effect (0 → 16: pm2 ends a crash loop after 15 restarts). */
export function maxRestartsOf(c: ServiceConfigData): number {
  return c.maxRestarts || DEFAULT_MAX_RESTARTS;
}

/**
 * Decides what follows a run that ended by itself after uptimeMs with exitCode, and updates the
 * counters (in place) as pm2 does. Unstable restarts count in a row: a run that outlived
 * min_uptime starts the count again (pm2 stops counting 16 s after the app was created instead).
 */
export function decideAfterExit(c: ServiceConfigData, counters: RestartCounters, uptimeMs: number, exitCode: number): ExitDecision {
  if (!c.autorestart) return { action: 'stop', reason: 'autorestart is off' };
  if (c.stopExitCodes.includes(exitCode)) return { action: 'stop', reason: `exit code ${exitCode} is in stop_exit_codes` };
  counters.unstableRestarts = uptimeMs < minUptimeOf(c) ? counters.unstableRestarts + 1 : 0;
  const max = maxRestartsOf(c);
  if (counters.unstableRestarts >= max) {
    const reason = `exited ${counters.unstableRestarts} times in a row within min_uptime ${minUptimeOf(c)} ms (max_restarts ${max})`;
    counters.unstableRestarts = 0; // as pm2 at "restart overlimit": a later start counts afresh
    return { action: 'errored', reason };
  }
  if (c.expBackoffRestartDelayMs > 0) {
    const prev = uptimeMs > EXP_BACKOFF_RESET_AFTER_MS ? 0 : counters.backoffMs;
    counters.backoffMs = prev === 0 ? c.expBackoffRestartDelayMs : Math.floor(Math.min(EXP_BACKOFF_CAP_MS, prev * EXP_BACKOFF_FACTOR));
  } else if (c.restartDelayMs > 0) {
    counters.backoffMs = c.restartDelayMs;
  } else if (counters.unstableRestarts > SAFETY_BACKOFF_AFTER) {
    const prev = counters.backoffMs;
    counters.backoffMs = prev === 0 ? SAFETY_BACKOFF_START_MS : Math.floor(Math.min(EXP_BACKOFF_CAP_MS, prev * EXP_BACKOFF_FACTOR));
  } else {
    counters.backoffMs = 0;
  }
  return { action: 'restart', delayMs: counters.backoffMs };
}
