// Reads and writes the services table. Every change is written at once (synchronously), so the
// table always says what the daemon last knew: which services exist, which should run, and the
// pid + start time of each current run (and, from before its fork, the run's token).
import type { Database } from '../registry/db';
import { withOptionDefaults, type ServiceConfigData } from './service-config';

export type ServiceStatus = 'starting' | 'online' | 'stopping' | 'stopped' | 'waiting' | 'errored';
export type DesiredState = 'online' | 'stopped';

/** One service's persisted state (times in epoch milliseconds, 0 = never). */
export interface ServiceRow {
  id: number;
  name: string;
  config: ServiceConfigData;
  desired: DesiredState;
  status: ServiceStatus;
  pid: number;
  startTime: number;
  restartCount: number;
  unstableRestarts: number;
  backoffMs: number;
  createdAt: number;
  lastStartedAt: number;
  lastExitedAt: number;
  lastExitCode: number;
  lastError: string;
  /** Id of the current run, set before its fork (RUNPM_SERVICE_RUN in its environment); '' before the first. */
  runToken: string;
  /** Which of its name's instances this is (NODE_APP_INSTANCE), 0 .. instances - 1. */
  instanceIndex: number;
}

/** The row of a service just defined: stopped, never run. */
export function newServiceRow(id: number, config: ServiceConfigData, instanceIndex = 0): ServiceRow {
  return {
    instanceIndex,
    id, name: config.name, config, desired: 'stopped', status: 'stopped', pid: 0, startTime: 0, restartCount: 0,
    unstableRestarts: 0, backoffMs: 0, createdAt: Date.now(), lastStartedAt: 0, lastExitedAt: 0, lastExitCode: 0, lastError: '',
    runToken: '',
  };
}

interface DbRow {
  id: number; name: string; config: string; desired: DesiredState; status: ServiceStatus; pid: number; start_time: number;
  restart_count: number; unstable_restarts: number; backoff_ms: number; created_at: number; last_started_at: number;
  last_exited_at: number; last_exit_code: number; last_error: string; run_token: string; instance_index: number;
}

/** The services table behind prepared statements; lives as long as the database. */
export class ServiceStore {
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly allStmt;

  constructor(private readonly db: Database) {
    this.upsertStmt = db.prepare(`
      INSERT INTO services (id, name, config, desired, status, pid, start_time, restart_count, unstable_restarts, backoff_ms,
        created_at, updated_at, last_started_at, last_exited_at, last_exit_code, last_error, run_token, instance_index)
      VALUES (@id, @name, @config, @desired, @status, @pid, @startTime, @restartCount, @unstableRestarts, @backoffMs,
        @createdAt, @updatedAt, @lastStartedAt, @lastExitedAt, @lastExitCode, @lastError, @runToken, @instanceIndex)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, config = excluded.config, desired = excluded.desired,
        status = excluded.status, pid = excluded.pid, start_time = excluded.start_time, restart_count = excluded.restart_count,
        unstable_restarts = excluded.unstable_restarts, backoff_ms = excluded.backoff_ms, updated_at = excluded.updated_at,
        last_started_at = excluded.last_started_at, last_exited_at = excluded.last_exited_at,
        last_exit_code = excluded.last_exit_code, last_error = excluded.last_error, run_token = excluded.run_token,
        instance_index = excluded.instance_index`);
    this.deleteStmt = db.prepare('DELETE FROM services WHERE id = ?');
    this.allStmt = db.prepare('SELECT * FROM services ORDER BY id');
  }

  /** Every stored service, by id. */
  loadAll(): ServiceRow[] {
    return (this.allStmt.all() as DbRow[]).map((r) => ({
      id: r.id,
      name: r.name,
      config: withOptionDefaults(JSON.parse(r.config) as ServiceConfigData),
      desired: r.desired,
      status: r.status,
      pid: r.pid,
      startTime: r.start_time,
      restartCount: r.restart_count,
      unstableRestarts: r.unstable_restarts,
      backoffMs: r.backoff_ms,
      createdAt: r.created_at,
      lastStartedAt: r.last_started_at,
      lastExitedAt: r.last_exited_at,
      lastExitCode: r.last_exit_code,
      lastError: r.last_error,
      runToken: r.run_token,
      instanceIndex: r.instance_index ?? 0,
    }));
  }

  /** Writes one service's whole row. */
  save(row: ServiceRow): void {
    this.upsertStmt.run({ ...row, config: JSON.stringify(row.config), updatedAt: Date.now() });
  }

  /** Removes a service's row. */
  remove(id: number): void {
    this.deleteStmt.run(id);
  }
}
