// The daemon's live state: one object for the life of the process, handed to every handler.
// startSubsystems (subsystems.ts) hangs the subsystems (sessions, registry, services, tees, observers)
// here when the daemon starts; the subsystems themselves never take this object.
import type { DaemonConfig } from './config';
import type { Logger } from './log';
import type { Database } from '../registry/db';
import type { EventBus } from '../events/event-bus';
import type { DaemonMetrics, MetricSample } from '../metrics/metrics';
import type { Registry } from '../registry/registry';
import type { SessionManager } from '../sessions/session-table';
import type { ServiceManager } from '../services/service-manager';
import type { TeeRegistry } from '../tee/tee-registry';
import type { SessionObservers } from '../observers/session-observers';

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
  /** Lifecycle events (session/service/zombie) with per-run sequence numbers. */
  readonly events: EventBus;
  /** Prometheus metrics, present only with --metrics. */
  metrics?: DaemonMetrics;
  /** Gauge sources polled at scrape time; each subsystem may push one. */
  readonly metricSources: Array<() => MetricSample[]>;
  /** The scope's SQLite database (registry and services tables); open for the daemon's life. */
  db?: Database;
  /** Tracked processes (registry tables in db) and the reaper; set once the database is open. */
  registry?: Registry;
  /** Pipe and PTY sessions keyed by id; created at start, closed (sessions killed) on shutdown. */
  sessions?: SessionManager;
  /** Supervised services (runpm start/stop/...); loaded from the database at start, stopped at shutdown. */
  services?: ServiceManager;
  /** Session tees (files fed by session streams) by session and handle; flushed and closed on shutdown. */
  tees?: TeeRegistry;
  /** Session observer subscriptions (on their sessions; fed by events); receivers ended on shutdown. */
  observers?: SessionObservers;
  /** Pid of the daemon of this scope that died without shutting down (its lock was stale), else null. */
  readonly crashedPredecessorPid: number | null;
  /** Starts daemon shutdown; installed by the server. */
  requestShutdown: (opts: { graceful: boolean; graceMs: number }) => void;
}
