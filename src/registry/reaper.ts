// The registry subsystem: at daemon start it validates every row (dropping dead and recycled
// ones), then a reaper runs the KillZombies logic every reaperIntervalMs on an unref'd timer
// and logs what it did. It stops when the daemon shuts down.
import type { DaemonState } from '../daemon/state';
import { Registry, type ZombieOutcome } from './registry';

/** Logs and publishes (zombie.reaped events) what a real KillZombies run did. */
export function reportReaped(state: DaemonState, outcomes: ZombieOutcome[], by: string): void {
  for (const o of outcomes) {
    state.log.info(`${by}: unregistered pid ${o.pid} (${o.command})${o.killed ? ' and killed its tree' : ''}: ${o.reason}`);
    state.events.emit('zombie.reaped', { pid: o.pid, status: o.kind, detail: o.reason });
  }
}

/** Runs once at daemon start, after the database is open. */
export function startRegistry(state: DaemonState): Registry {
  if (!state.db) throw new Error('registry needs the scope database to be open first');
  const registry = new Registry(state.db);
  // A row whose process cannot be checked now (no fd left) is kept: it may well be alive.
  const dropped = registry.dropDeadRows();
  for (const row of dropped) {
    state.log.info(`registry: dropped pid ${row.pid} (${row.command}) at start: its process is gone`);
  }
  state.registry = registry;
  state.trackedProcessCount = () => registry.store.count();

  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let closed = false;
  const reap = async () => {
    if (running || closed) return;
    running = true;
    try {
      const { outcomes, unknown } = await registry.killZombies(false);
      reportReaped(state, outcomes, 'reaper');
      if (unknown > 0) state.log.warn(`reaper: ${unknown} row(s) could not be checked (the process table is unreadable now); kept as they are`);
    } catch (err) {
      state.log.error(`reaper failed: ${(err as Error).message}`);
    } finally {
      running = false;
    }
  };
  if (state.config.reaperIntervalMs > 0) {
    timer = setInterval(() => void reap(), state.config.reaperIntervalMs);
    timer.unref();
  }
  state.subsystems.push({
    name: 'registry reaper',
    close: async () => {
      closed = true;
      if (timer) clearInterval(timer);
      state.trackedProcessCount = () => 0;
    },
  });
  return registry;
}
