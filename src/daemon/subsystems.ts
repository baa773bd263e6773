// The daemon's wiring: starts each subsystem in dependency order with the few things it needs from
// the daemon state, hangs it on the state, registers its gauges and its shutdown. Subsystems never
// see DaemonState themselves; this file is the one place that knows how they fit together.
import type { DaemonState } from './state';
import { openDatabase, type Database } from '../registry/db';
import { Registry } from '../registry/registry';
import { dropDeadRowsAtStart, startReaper } from '../registry/reaper';
import { registerUnrecordedDetached } from '../registry/detached-recovery';
import { openSessions, sessionMetrics } from '../sessions/start';
import { openTees, teeMetrics } from '../tee/start';
import { SessionObservers } from '../observers/session-observers';
import { observerFrameCodec } from './handlers/observers';
import { retryAfterEnospc } from './emergency-reserve';

/** Runs once at daemon start, before the socket accepts connections. */
export async function startSubsystems(state: DaemonState): Promise<void> {
  const db = openDatabase(state.config.paths.dbPath);
  state.db = db;
  state.subsystems.push({ name: 'database', close: async () => { db.close(); } });
  startRegistry(state, db);
  startTees(state); // before sessions: closed after them, so tees flush the streams' last bytes
  startSessions(state, db);
  startObservers(state); // after sessions: closed before them, so receivers hear "shutting down" first
  startServices(state, db);
}

/** runpmd --metrics: before the subsystems, which register their gauge sources on state.metricSources. */
export async function startMetrics(state: DaemonState, address: string): Promise<void> {
  const { DaemonMetrics } = require('../metrics/metrics') as typeof import('../metrics/metrics');
  const metrics = new DaemonMetrics({ log: state.log, trackedProcessCount: () => state.trackedProcessCount(), sources: state.metricSources });
  await metrics.listen(address);
  state.metrics = metrics;
  state.subsystems.push({ name: 'metrics', close: () => metrics.close() });
}

/**
 * The process registry: rows of gone processes dropped at start, detached children a crashed
 * predecessor forked without a row registered (at once, or once the process table is readable),
 * then the periodic reaper.
 */
function startRegistry(state: DaemonState, db: Database): void {
  const registry = new Registry(db);
  dropDeadRowsAtStart(registry, state.log);
  void registerUnrecordedDetached(registry, { scopeHash: state.config.paths.scopeHash, crashedPid: state.crashedPredecessorPid, log: state.log })
    .catch((err) => state.log.error(`crash recovery of detached processes failed: ${(err as Error).stack ?? err}`));
  state.registry = registry;
  state.trackedProcessCount = () => registry.store.count();
  const reaper = startReaper(registry, { log: state.log, events: state.events }, state.config.reaperIntervalMs);
  state.subsystems.push({
    name: 'registry reaper',
    close: async () => {
      reaper.stop();
      state.trackedProcessCount = () => 0;
    },
  });
}

function startTees(state: DaemonState): void {
  const tees = openTees(state.log);
  state.tees = tees;
  state.metricSources.push(teeMetrics);
  state.subsystems.push({ name: 'tees', close: () => tees.close() });
}

/** The session table (its crash journal is in the database): killed on shutdown. */
function startSessions(state: DaemonState, db: Database): void {
  const { config } = state;
  const sessions = openSessions({
    db, log: state.log, events: state.events, scopeHash: config.paths.scopeHash, crashedPredecessorPid: state.crashedPredecessorPid,
    exitedRingBudgetBytes: config.exitedRingBudgetBytes, keepExitedCount: config.keepExited, keepExitedMs: config.keepExitedMs,
  });
  state.sessions = sessions;
  state.metricSources.push(() => sessionMetrics(sessions));
  state.subsystems.push({ name: 'sessions', close: (opts) => sessions.close(opts) });
}

function startObservers(state: DaemonState): void {
  const observers = new SessionObservers({
    events: state.events, log: state.log, codec: observerFrameCodec,
    stallMs: state.config.observerStallMs, pollMs: state.config.observerPollMs,
  });
  state.observers = observers;
  state.metricSources.push(() => [{ name: 'runpm_session_observers', value: observers.count }]);
  state.subsystems.push({ name: 'observers', close: async () => observers.close() });
}

/** Services load after the database (their table) and stop before it closes. */
function startServices(state: DaemonState, db: Database): void {
  const { ServiceManager } = require('../services/service-manager') as typeof import('../services/service-manager');
  const { config } = state;
  const services = new ServiceManager({
    db, log: state.log, events: state.events, cwd: state.cwd,
    logsDir: config.paths.logsDir, stateDir: config.paths.stateDir, scopeTag: config.paths.scopeHash,
    crashedPredecessor: state.crashedPredecessorPid !== null,
    defaultEnv: config.defaultEnv, logMaxBytes: config.logMaxBytes, logMaxFiles: config.logMaxFiles,
    retryAfterEnospc: (what, write) => retryAfterEnospc(state, what, write),
  });
  services.load();
  state.services = services;
  state.metricSources.push(() => services.metricSamples());
  state.subsystems.push({ name: 'services', close: (opts) => services.close(opts) });
  if (config.resurrect) {
    // After listen would race clients; before is fine: resurrect only needs the table and /proc.
    void services.resurrect().then(
      ({ restored, started }) => state.log.info(`--resurrect: restored ${restored} services, started ${started}`),
      (err) => state.log.error(`--resurrect failed: ${(err as Error).message}`),
    );
  }
}
