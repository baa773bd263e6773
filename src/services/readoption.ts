// Re-adoption at daemon start: every stored service comes back into the table; runs that survived
// the previous daemon are adopted, never started twice, and those that died while no daemon
// watched are reported for a restart. After a predecessor that died without shutting down, runs
// are also found by their tags (RUNPM_SERVICE_SCOPE, RUNPM_SERVICE_ID, RUNPM_SERVICE_RUN in their
// environment): the run of the token written before its fork is adopted even when its pid never
// was, and processes of earlier runs the dead daemon left are stopped before anything restarts.
// While the process table cannot be listed (EMFILE...), a service whose run may be such an
// unrecorded one is neither adopted nor restarted: it waits, and the table is looked at again every
// UNREADABLE_RETRY_MS until it can be read (a restart then could double it). Runs once per daemon.
import type { Logger } from '../daemon/log';
import {
  checkLiveness, findTagged, startTicksToEpochSeconds, ProcUnreadableError, type TaggedProcess,
} from '../proc/process-table';
import { GroupEscalation, terminateGroupTree } from '../proc/kill-escalation';
import { RUNNING_STATUSES, type Service } from './service';
import { killTimeoutOf } from './service-config';
import type { ServiceRow } from './service-store';
import type { ServiceTable } from './service-table';

const ID_KEY = 'RUNPM_SERVICE_ID';
const RUN_KEY = 'RUNPM_SERVICE_RUN';
/** Grace for leftovers of a service that is no longer defined. */
const ORPHAN_GRACE_MS = 3000;
/** Retry delay while the process table cannot be listed. */
const UNREADABLE_RETRY_MS = 1000;

export interface ReadoptionContext {
  readonly log: Logger;
  readonly table: ServiceTable;
  /** Tag of this scope's runs (RUNPM_SERVICE_SCOPE in their environment). */
  readonly scopeTag: string;
  /** The previous daemon died without shutting down (its lock was stale). */
  readonly crashed: boolean;
  saveRow(row: ServiceRow): void;
}

export interface ReadoptionResult {
  /**
   * Resolves, once every leftover of an earlier run is gone (and the table could be read), with
   * the services meant to be running whose run is gone: the caller restarts them (dependency
   * order) then, so no run is doubled.
   */
  toRestart: Promise<Service[]>;
}

/** A row whose run may have been forked without its pid written (the token is written first). */
function mayHaveUnrecordedRun(row: ServiceRow): boolean {
  return row.pid === 0 && row.runToken !== '' && RUNNING_STATUSES.has(row.status);
}

/** The tagged processes of this scope's runs, or why the table cannot be read now. */
function scanRuns(ctx: ReadoptionContext): TaggedProcess[] | ProcUnreadableError {
  try {
    return findTagged(`RUNPM_SERVICE_SCOPE=${ctx.scopeTag}`, [ID_KEY, RUN_KEY]);
  } catch (err) {
    if (!(err instanceof ProcUnreadableError)) throw err;
    return err;
  }
}

/** Scans again every UNREADABLE_RETRY_MS until the table can be read. */
async function scanWhenReadable(ctx: ReadoptionContext): Promise<TaggedProcess[]> {
  for (;;) {
    await new Promise((r) => setTimeout(r, UNREADABLE_RETRY_MS).unref());
    const tagged = scanRuns(ctx);
    if (Array.isArray(tagged)) return tagged;
  }
}

/** The run among processes of one token: the oldest (forked before any of its descendants). */
function runOf(procs: TaggedProcess[]): TaggedProcess {
  const pids = new Set(procs.map((p) => p.stat.pid));
  return procs.reduce((a, b) => {
    if (a.stat.startTicks !== b.stat.startTicks) return b.stat.startTicks < a.stat.startTicks ? b : a;
    // Same tick: the one whose parent is not in the run is its root.
    return pids.has(a.stat.ppid) && !pids.has(b.stat.ppid) ? b : a;
  });
}

/**
 * Loads the stored rows into the table, adopting what still runs and stopping leftovers of
 * earlier runs (see the file comment).
 */
export function readoptServices(ctx: ReadoptionContext, rows: ServiceRow[]): ReadoptionResult {
  const scan = ctx.crashed || rows.some(mayHaveUnrecordedRun) ? scanRuns(ctx) : [];
  const tagged = Array.isArray(scan) ? scan : null;
  const unreadable = tagged === null;
  const toRestart: Service[] = [];
  /** Run token adopted per service id: its processes are the service's, any other token's are leftovers. */
  const adoptedToken = new Map<number, string>();
  /** Services that may have an unrecorded run, with the token they were loaded with, while the table is unreadable. */
  const waiting: Array<{ svc: Service; token: string }> = [];
  for (const row of rows) {
    const svc = ctx.table.add(row);
    // A run we cannot check now (no fd left) is taken as alive: restarting it could double it.
    const liveness = row.pid === 0 ? 'dead' : checkLiveness({ pid: row.pid, startTicks: row.startTime });
    let alive = liveness === 'alive' || liveness === 'unknown';
    const clusterWorker = row.config.execMode === 'cluster';
    if (alive && clusterWorker) {
      // A cluster worker was the last daemon's (its primary): cut off from it, node makes it exit,
      // and no other primary can serve its ports. It is stopped and, when meant to run, started again.
      if (liveness === 'alive') void terminateGroupTree({ pid: row.pid, startTicks: row.startTime }, 0).catch(() => undefined);
      alive = false;
    }
    if (!alive && tagged && !clusterWorker) alive = recoverUnrecordedRun(ctx, row, tagged);
    if (!alive && unreadable && mayHaveUnrecordedRun(row)) {
      waiting.push({ svc, token: row.runToken });
      continue;
    }
    if (alive) adoptedToken.set(row.id, row.runToken);
    settle(ctx, svc, alive, toRestart);
  }
  if (!unreadable) {
    const leftovers = tagged.filter((p) => adoptedToken.get(Number(p.values[ID_KEY])) !== p.values[RUN_KEY]);
    return { toRestart: stopLeftovers(ctx, leftovers).then(() => toRestart) };
  }
  ctx.log.error(`services: ${(scan as ProcUnreadableError).message}; ${waiting.length > 0 ? `${waiting.map((w) => w.svc.name).join(', ')} may have a run the last daemon did not record: neither adopted nor restarted until` : 'leftovers of earlier runs are looked for once'} it can be read, every ${UNREADABLE_RETRY_MS} ms`);
  const later = scanWhenReadable(ctx).then(async (found) => {
    for (const { svc, token } of waiting) {
      // Started, stopped or deleted meanwhile by a request: what the old token left is a leftover.
      if (ctx.table.get(svc.name) !== svc || svc.row.runToken !== token || !mayHaveUnrecordedRun(svc.row)) continue;
      const alive = recoverUnrecordedRun(ctx, svc.row, found);
      if (alive) adoptedToken.set(svc.row.id, token);
      settle(ctx, svc, alive, toRestart);
    }
    // Runs this daemon started since load carry a token it wrote: theirs, not leftovers.
    const loaded = new Map(rows.map((r) => [r.id, r.runToken]));
    const ours = (p: TaggedProcess) => {
      const id = Number(p.values[ID_KEY]);
      const svc = ctx.table.list().find((s) => s.row.id === id);
      return adoptedToken.get(id) === p.values[RUN_KEY] || (svc !== undefined && svc.row.runToken !== loaded.get(id) && svc.row.runToken === p.values[RUN_KEY]);
    };
    ctx.log.info(`services: the process table can be read again; ${waiting.length} waiting service(s) settled`);
    await stopLeftovers(ctx, found.filter((p) => !ours(p)));
    return toRestart;
  });
  return { toRestart: later };
}

/** Adopts the service's run (or finishes stopping it), or records it gone and queues a restart when it was meant to run. */
function settle(ctx: ReadoptionContext, svc: Service, alive: boolean, toRestart: Service[]): void {
  const row = svc.row;
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

/**
 * The recorded run is gone (or was never recorded): the run of the token written before the last
 * fork, if it lives, is the one the dead daemon spawned. Adopting it (instead of spawning) is what
 * keeps a crash between the fork and the pid's write from doubling the service.
 */
function recoverUnrecordedRun(ctx: ReadoptionContext, row: ServiceRow, tagged: TaggedProcess[]): boolean {
  if (row.runToken === '') return false;
  const procs = tagged.filter((p) => p.values[ID_KEY] === String(row.id) && p.values[RUN_KEY] === row.runToken);
  if (procs.length === 0) return false;
  const run = runOf(procs).stat;
  ctx.log.warn(`service ${row.name}: found run pid ${run.pid} that the last daemon did not record; adopting it`);
  Object.assign(row, { pid: run.pid, startTime: run.startTicks, lastStartedAt: startTicksToEpochSeconds(run.startTicks) * 1000 });
  if (!RUNNING_STATUSES.has(row.status) || row.status === 'waiting') row.status = 'starting';
  return true;
}

/** SIGTERM, kill_timeout, SIGKILL for each leftover (with its group and descendants); logged per service. */
function stopLeftovers(ctx: ReadoptionContext, leftovers: TaggedProcess[]): Promise<void> {
  if (leftovers.length === 0) return Promise.resolve();
  const byService = new Map<string, TaggedProcess[]>();
  for (const p of leftovers) byService.set(p.values[ID_KEY], [...(byService.get(p.values[ID_KEY]) ?? []), p]);
  const done = [...byService].map(async ([id, procs]) => {
    const svc = ctx.table.list().find((s) => String(s.row.id) === id);
    const grace = svc ? killTimeoutOf(svc.row.config) : ORPHAN_GRACE_MS;
    ctx.log.warn(`${svc ? `service ${svc.name}` : `service id ${id} (no longer defined)`}: stopping ${procs.length} process(es) of an earlier run the last daemon left (pids ${procs.map((p) => p.stat.pid).join(', ')})`);
    await Promise.all(procs.map((p) => new GroupEscalation(p.stat.pid, p.stat.startTicks).terminate(grace)));
  });
  return Promise.all(done).then(() => undefined);
}
