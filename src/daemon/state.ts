// The daemon's live state: one object for the life of the process, handed to every handler.
// Subsystems (sessions, registry, services, tees) attach themselves here when the daemon starts.
import type { DaemonConfig } from './config';
import type { Logger } from './log';
import type { Database } from '../registry/db';
import type { SessionManager } from '../sessions/session-table';

/** A part of the daemon that holds resources and must be shut down with it. */
export interface Subsystem {
  readonly name: string;
  /** Runs on SHUTDOWN or a signal: graceful → SIGTERM then SIGKILL after graceMs; else SIGKILL at once. */
  close(opts: { graceful: boolean; graceMs: number }): Promise<void>;
}

export type EmergencyReserveState = 'armed' | 'released' | 'degraded' | 'disabled';

export interface DaemonState {
  /** Flags and defaults, fixed at start. */
  readonly config: DaemonConfig;
  readonly log: Logger;
  /** Package version reported by STATUS. */
  readonly version: string;
  /** Date.now() when the daemon started; uptime is measured from here. */
  readonly startedAtMs: number;
  /** Working directory the daemon was started in (STATUS scope_cwd). */
  readonly cwd: string;
  /** Connections currently open (STATUS active_connections). */
  activeConnections: number;
  /** Tracked-process count, provided by the registry once it is open. */
  trackedProcessCount: () => number;
  /** ENOSPC reserve file state (STATUS emergency_reserve). */
  emergencyReserve: EmergencyReserveState;
  /** Closed in reverse order of registration on shutdown. */
  readonly subsystems: Subsystem[];
  /** Set once shutdown has begun: new connections and requests are refused. */
  shuttingDown: boolean;
  /** The scope's SQLite database (registry and services tables); open for the daemon's life. */
  db?: Database;
  /** Pipe and PTY sessions keyed by id; created at start, closed (sessions killed) on shutdown. */
  sessions?: SessionManager;
  /** Starts daemon shutdown; installed by the server. */
  requestShutdown: (opts: { graceful: boolean; graceMs: number }) => void;
}
