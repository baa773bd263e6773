// Re-adoption at daemon start: every stored service comes back into the table; runs that survived
// the previous daemon (same pid and start time) are adopted, never started twice, and those that
// died while no daemon watched are reported for a restart. Runs once per daemon.
import type { Logger } from '../daemon/log';
import { checkLiveness, findSessionLeadersWithEnv, startTicksToEpochSeconds } from '../proc/process-table';
import { RUNNING_STATUSES, type Service } from './service';
import type { ServiceRow } from './service-store';
import type { ServiceTable } from './service-table';

export interface ReadoptionContext {
  readonly log: Logger;
  readonly table: ServiceTable;
  /** Tag of this scope's runs (RUNPM_SERVICE_SCOPE in their environment). */
  readonly scopeTag: string;
  saveRow(row: ServiceRow): void;
}

/**
 * Loads the stored rows into the table. Returns the services that were meant to be running but
 * whose run is gone: the caller restarts them (in dependency order, in the background).
 */
export function readoptServices(ctx: ReadoptionContext, rows: ServiceRow[]): Service[] {
  const toRestart: Service[] = [];
  for (const row of rows) {
    const svc = ctx.table.add(row);
    // A run we cannot check now (no fd left) is taken as alive: restarting it could double it.
    const liveness = row.pid === 0 ? 'dead' : checkLiveness({ pid: row.pid, startTicks: row.startTime });
    let alive = liveness === 'alive' || liveness === 'unknown';
    if (!alive && row.desired === 'online') alive = recoverUnrecordedRun(ctx, row);
    if (alive && row.desired === 'online' && RUNNING_STATUSES.has(row.status)) {
      svc.adopt();
      ctx.log.info(`service ${row.name}: re-adopted pid ${row.pid}`);
    } else if (alive) {
      // It was being stopped (or is no longer wanted) when the last daemon died: finish that.
      svc.adopted = true;
      void svc.serialize(() => svc.stopRun());
    } else {
      const wasRunning = row.desired === 'online' && RUNNING_STATUSES.has(row.status);
      if (row.pid !== 0) Object.assign(row, { pid: 0, startTime: 0, lastExitedAt: Date.now(), lastExitCode: -1 });
      if (wasRunning) toRestart.push(svc);
      else if (row.status === 'stopping' || row.status === 'starting' || row.status === 'online' || row.status === 'waiting') row.status = 'stopped';
      ctx.saveRow(row);
    }
  }
  return toRestart;
}

/**
 * The recorded run is gone, but the last daemon may have spawned a newer one and died before
 * writing its pid: a live session leader tagged with this scope and service id is that run.
 * Adopting it (instead of spawning) is what keeps a crash from doubling the service.
 */
function recoverUnrecordedRun(ctx: ReadoptionContext, row: ServiceRow): boolean {
  const runs = findSessionLeadersWithEnv([`RUNPM_SERVICE_SCOPE=${ctx.scopeTag}`, `RUNPM_SERVICE_ID=${row.id}`]);
  if (runs.length === 0) return false;
  const newest = runs.reduce((a, b) => (b.startTicks > a.startTicks ? b : a));
  ctx.log.warn(`service ${row.name}: found run pid ${newest.pid} that the last daemon did not record; adopting it`);
  Object.assign(row, { pid: newest.pid, startTime: newest.startTicks, lastStartedAt: startTicksToEpochSeconds(newest.startTicks) * 1000 });
  if (row.status === 'waiting' || !RUNNING_STATUSES.has(row.status)) row.status = 'starting';
  return true;
}
