// Starts the daemon's subsystems in dependency order and registers each for shutdown.
// Each family (registry, sessions, tees, services) adds its start call here.
import type { DaemonState } from './state';
import { openDatabase } from '../registry/db';
import { startSessions } from '../sessions/start';

/** Runs once at daemon start, before the socket accepts connections. */
export async function startSubsystems(state: DaemonState): Promise<void> {
  const db = openDatabase(state.config.paths.dbPath);
  state.db = db;
  state.subsystems.push({ name: 'database', close: async () => { db.close(); } });
  startSessions(state);
}
