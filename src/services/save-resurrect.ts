// ServiceSave and ServiceResurrect over the table: the snapshot of every definition (and whether it
// is meant to run), and restoring it. The file format lives in snapshot.ts.
import { InvalidArgumentError } from '../wire/errors';
import { findCycle } from './dependency-order';
import type { DependencyScheduler } from './dependency-scheduler';
import type { ServiceConfigData, ServiceDefaults } from './service-config';
import { RUNNING_STATUSES } from './service';
import type { ServiceRow } from './service-store';
import type { ServiceTable } from './service-table';
import { readSnapshot, writeSnapshot, type SnapshotEntry } from './snapshot';

export interface SnapshotContext {
  readonly table: ServiceTable;
  readonly scheduler: DependencyScheduler;
  readonly snapshotPath: string;
  readonly defaults: ServiceDefaults;
  saveRow(row: ServiceRow): void;
  /** Defines a config's instances under its name (the manager's define: no start). */
  define(config: ServiceConfigData, preferredId: number): Promise<unknown>;
  /** Runs a write; a disk-full failure releases the emergency reserve and is retried once. */
  retryAfterEnospc(what: string, write: () => void): void;
}

/** ServiceSave: writes every definition and whether it is meant to run. */
export function saveServices(ctx: SnapshotContext): { path: string; count: number } {
  // One entry per name (the first instance's config and id), its instances the count defined now
  // (pm2 start -f may have added more than the config says).
  const byName = new Map<string, SnapshotEntry>();
  for (const s of ctx.table.list()) {
    const online = s.row.desired === 'online' && RUNNING_STATUSES.has(s.row.status);
    const seen = byName.get(s.name);
    if (seen) {
      seen.online ||= online;
      seen.config = { ...seen.config, instances: Math.max(seen.config.instances, ctx.table.named(s.name).length) };
    } else byName.set(s.name, { id: s.row.id, name: s.name, config: s.row.config, online });
  }
  const entries = [...byName.values()];
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
    if (table.named(e.name).some((svc) => RUNNING_STATUSES.has(svc.row.status))) continue; // Running already: left alone.
    await ctx.define(e.config, e.id);
    if (e.online) toStart.push(e.name);
  }
  await ctx.scheduler.startInOrder(toStart, true);
  return { restored: snapshot.services.length, started: toStart.length };
}
