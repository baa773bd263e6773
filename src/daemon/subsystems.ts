// Starts the daemon's subsystems in dependency order and registers each for shutdown.
// Each family (registry, sessions, tees, services) adds its start call here.
import type { DaemonState } from './state';

/** Runs once at daemon start, before the socket accepts connections. */
export async function startSubsystems(_state: DaemonState): Promise<void> {
  // Filled in as subsystems land.
}
