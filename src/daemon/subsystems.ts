// Starts the daemon's subsystems in dependency order and registers each for shutdown.
// Each family (registry, sessions, tees, services) adds its start call here.
import type { DaemonState } from './state';
import { openDatabase } from '../registry/db';
import { startRegistry } from '../registry/reaper';
import { startSessions } from '../sessions/start';
import { startTees } from '../tee/start';
import { startObservers } from '../observers/start';
import { retryAfterEnospc } from './emergency-reserve';

/** Runs once at daemon start, before the socket accepts connections. */
export async function startSubsystems(state: DaemonState): Promise<void> {
  const db = openDatabase(state.config.paths.dbPath);
  state.db = db;
  state.subsystems.push({ name: 'database', close: async () => { db.close(); } });
  startRegistry(state);
  startTees(state); // before sessions: closed after them, so tees flush the streams' last bytes
  startSessions(state);
  startObservers(state); // after sessions: closed before them, so receivers hear "shutting down" first
  startServices(state);
}

/** Services load after the database (their table) and stop before it closes. */
function startServices(state: DaemonState): void {
  const { ServiceManager } = require('../services/service-manager') as typeof import('../services/service-manager');
  const db = state.db;
  if (!db) throw new Error('the services subsystem needs the database');
  const { config } = state;
  const services = new ServiceManager({
    db, log: state.log, events: state.events, cwd: state.cwd,
    logsDir: config.paths.logsDir, stateDir: config.paths.stateDir, scopeTag: config.paths.scopeHash,
    defaultEnv: config.defaultEnv, logMaxBytes: config.logMaxBytes, logMaxFiles: config.logMaxFiles,
    retryAfterEnospc: (what, write) => retryAfterEnospc(state, what, write),
  });
  services.load();
  state.services = services;
  state.metricSources.push(() => services.metricSamples());
  state.subsystems.push({ name: 'services', close: (opts) => services.close(opts) });
  if (state.config.resurrect) {
    // After listen would race clients; before is fine: resurrect only needs the table and /proc.
    void services.resurrect().then(
      ({ restored, started }) => state.log.info(`--resurrect: restored ${restored} services, started ${started}`),
      (err) => state.log.error(`--resurrect failed: ${(err as Error).message}`),
    );
  }
}
