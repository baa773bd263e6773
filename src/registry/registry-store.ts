// Rows of the tracked_processes table (schema version 1): every change is one transaction,
// written at once, so a daemon killed at any moment leaves the last committed state.
// The store lives as long as the daemon's database handle; it keeps no copy of the rows.
import type { Database } from './db';

/** One tracked process as stored; (pid, startTicks) is the key. */
export interface TrackedRow {
  pid: number;
  startTicks: number;
  createdAt: number;
  kind: string;
  command: string;
  cwd: string;
  originator: string;
  containment: string;
  registeredAt: number;
  lastValidatedAt: number;
}

interface DbRow {
  pid: number;
  start_ticks: number;
  created_at: number;
  kind: string;
  command: string;
  cwd: string;
  originator: string;
  containment: string;
  registered_at: number;
  last_validated_at: number;
}

function fromDb(r: DbRow): TrackedRow {
  return {
    pid: r.pid, startTicks: r.start_ticks, createdAt: r.created_at, kind: r.kind, command: r.command, cwd: r.cwd,
    originator: r.originator, containment: r.containment, registeredAt: r.registered_at, lastValidatedAt: r.last_validated_at,
  };
}

/** Prepared statements over one open database. */
export class RegistryStore {
  private readonly insertStmt;
  private readonly deleteOtherStartsStmt;
  private readonly deletePidStmt;
  private readonly deleteIdentityStmt;
  private readonly allStmt;
  private readonly byPidStmt;
  private readonly countStmt;
  private readonly touchStmt;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(`INSERT OR REPLACE INTO tracked_processes
      (pid, start_ticks, created_at, kind, command, cwd, originator, containment, registered_at, last_validated_at)
      VALUES (@pid, @startTicks, @createdAt, @kind, @command, @cwd, @originator, @containment, @registeredAt, @lastValidatedAt)`);
    this.deleteOtherStartsStmt = db.prepare('DELETE FROM tracked_processes WHERE pid = ? AND start_ticks != ?');
    this.deletePidStmt = db.prepare('DELETE FROM tracked_processes WHERE pid = ?');
    this.deleteIdentityStmt = db.prepare('DELETE FROM tracked_processes WHERE pid = ? AND start_ticks = ?');
    this.allStmt = db.prepare('SELECT * FROM tracked_processes ORDER BY registered_at, pid');
    this.byPidStmt = db.prepare('SELECT * FROM tracked_processes WHERE pid = ?');
    this.countStmt = db.prepare('SELECT COUNT(*) AS n FROM tracked_processes').pluck();
    this.touchStmt = db.prepare('UPDATE tracked_processes SET last_validated_at = ? WHERE pid = ? AND start_ticks = ?');
  }

  /** Inserts or replaces the row; a row for the same pid with another start time (stale) goes. */
  upsert(row: TrackedRow): void {
    this.db.transaction(() => {
      this.deleteOtherStartsStmt.run(row.pid, row.startTicks);
      this.insertStmt.run(row);
    })();
  }

  /** Removes every row of pid; returns how many there were. */
  deletePid(pid: number): number {
    return this.deletePidStmt.run(pid).changes;
  }

  /** Removes exactly this identity (a newer registration of the same pid stays). */
  deleteIdentity(pid: number, startTicks: number): number {
    return this.deleteIdentityStmt.run(pid, startTicks).changes;
  }

  all(): TrackedRow[] {
    return (this.allStmt.all() as DbRow[]).map(fromDb);
  }

  byPid(pid: number): TrackedRow[] {
    return (this.byPidStmt.all(pid) as DbRow[]).map(fromDb);
  }

  count(): number {
    return this.countStmt.get() as number;
  }

  /** Records that these rows were checked against the OS at `at` (epoch seconds), in one transaction. */
  touch(rows: Array<{ pid: number; startTicks: number }>, at: number): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows) this.touchStmt.run(at, r.pid, r.startTicks);
    })();
  }
}
