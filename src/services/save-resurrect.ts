// ServiceSave and ServiceResurrect over the table: the snapshot of every definition (and whether it
// is meant to run), and restoring it. The file format lives in snapshot.ts.
import { InvalidArgumentError } from '../wire/errors';
import { findCycle } from './dependency-order';
import type { DependencyScheduler } from './dependency-scheduler';
import type { ServiceDefaults } from './service-config';
import { RUNNING_STATUSES } from './service';
import { newServiceRow, type ServiceRow } from './service-store';
import type { ServiceTable } from './service-table';
import { readSnapshot, writeSnapshot, type SnapshotEntry } from './snapshot';

export interface SnapshotContext {
  readonly table: ServiceTable;
  readonly scheduler: DependencyScheduler;
  readonly snapshotPath: string;
  readonly defaults: ServiceDefaults;
  saveRow(row: ServiceRow): void;
  /** Runs a write; a disk-full failure releases the emergency reserve and is retried once. */
  retryAfterEnospc(what: string, write: () => void): void;
}

/** ServiceSave: writes every definition and whether it is meant to run. */
export function saveServices(ctx: SnapshotContext): { path: string; count: number } {
  const entries: SnapshotEntry[] = ctx.table.list().map((s) => ({
    id: s.row.id, name: s.name, config: s.row.config, online: s.row.desired === 'online' && RUNNING_STATUSES.has(s.row.status),
  }));
  ctx.retryAfterEnospc('ServiceSave', () => writeSnapshot(ctx.snapshotPath, entries));
  return { path: ctx.snapshotPath, count: entries.length };
}

/**
 * ServiceResurrect: checks the whole snapshot first (nothing changes if it is bad), then restores
 * every definition and starts the ones saved as online that are not running. Idempotent.
 */
export async function resurrectServices(ctx: SnapshotContext): Promise<{ restored: number; started: number }> {
  const { table } = ctx;
  const snapshot = readSnapshot(ctx.snapshotPath, ctx.defaults);
  const merged = new Map<string, readonly string[]>(table.graph());
  for (const e of snapshot.services) {
    const current = table.get(e.name);
    if (!current || !RUNNING_STATUSES.has(current.row.status)) merged.set(e.name, e.config.dependsOn);
  }
  for (const [name, deps] of merged) {
    const missing = deps.find((d) => !merged.has(d));
    if (missing) throw new InvalidArgumentError(`snapshot ${ctx.snapshotPath}: service '${name}' depends on unknown service '${missing}'`);
  }
  const cycle = findCycle(merged);
  if (cycle) throw new InvalidArgumentError(`snapshot ${ctx.snapshotPath}: dependency cycle: ${cycle.join(' -> ')}`);
  const toStart: string[] = [];
  for (const e of snapshot.services) {
    let svc = table.get(e.name);
    if (svc && RUNNING_STATUSES.has(svc.row.status)) continue; // Running already: left alone.
    if (svc) svc.row.config = e.config;
    else svc = table.add(newServiceRow(e.id >= 0 && !table.hasId(e.id) ? e.id : table.nextId(), e.config));
    ctx.saveRow(svc.row);
    if (e.online) toStart.push(e.name);
  }
  await ctx.scheduler.startInOrder(toStart, true);
  return { restored: snapshot.services.length, started: toStart.length };
}
