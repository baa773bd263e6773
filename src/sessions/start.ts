// Creates the daemon's session table at start and registers it for shutdown (graceful: SIGTERM,
// then SIGKILL after the grace; immediate: SIGKILL). Runs once per daemon.
import type { DaemonState } from '../daemon/state';
import { SessionManager } from './session-table';

/** Called from startSubsystems(): hangs the table on state.sessions. */
export function startSessions(state: DaemonState): SessionManager {
  const manager = new SessionManager({ log: state.log, exitedRingBudgetBytes: state.config.exitedRingBudgetBytes });
  state.sessions = manager;
  state.subsystems.push({ name: 'sessions', close: (opts) => manager.close(opts) });
  return manager;
}
