// The session_children table (schema version 3): one row per live session leader the daemon
// spawned, written right after the spawn (before the client hears of the session) and removed
// once the leader exited. A row still present at the next start means the daemon died with the
// session running: crash recovery (src/sessions/crash-recovery.ts) reports and stops it.
import type { Database } from './db';
import type { Migration } from './migrations';

/** Migration 3: session leaders keyed by (pid, start_ticks), with what a report needs. */
export const SESSION_CHILDREN_MIGRATION: Migration = {
  version: 3,
  description: 'session_children: leaders of live pipe and PTY sessions, for crash recovery',
  up(db) {
    db.exec(`
      CREATE TABLE session_children (
        pid         INTEGER NOT NULL,
        start_ticks INTEGER NOT NULL,
        session_id  TEXT    NOT NULL,
        kind        TEXT    NOT NULL CHECK (kind IN ('pipe', 'pty')),
        command     TEXT    NOT NULL,
        cwd         TEXT    NOT NULL,
        originator  TEXT    NOT NULL,
        created_at  REAL    NOT NULL,  -- epoch seconds
        PRIMARY KEY (pid, start_ticks)
      ) STRICT;
      CREATE INDEX session_children_session ON session_children (session_id);
    `);
  },
};

/** One recorded session leader. */
export interface SessionChildRow {
  pid: number;
  startTicks: number;
  sessionId: string;
  kind: 'pipe' | 'pty';
  command: string;
  cwd: string;
  originator: string;
  /** Epoch seconds. */
  createdAt: number;
}

interface DbRow {
  pid: number; start_ticks: number; session_id: string; kind: 'pipe' | 'pty'; command: string; cwd: string; originator: string; created_at: number;
}

/** Prepared statements over the daemon's database; keeps no copy of the rows. */
export class SessionChildrenStore {
  private readonly insertStmt;
  private readonly deleteStmt;
  private readonly allStmt;
  private readonly countStmt;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(`INSERT OR REPLACE INTO session_children
      (pid, start_ticks, session_id, kind, command, cwd, originator, created_at)
      VALUES (@pid, @startTicks, @sessionId, @kind, @command, @cwd, @originator, @createdAt)`);
    this.deleteStmt = db.prepare('DELETE FROM session_children WHERE pid = ? AND start_ticks = ?');
    this.allStmt = db.prepare('SELECT * FROM session_children ORDER BY created_at, pid');
    this.countStmt = db.prepare('SELECT COUNT(*) FROM session_children').pluck();
  }

  /** Records a leader (one transaction, written at once). */
  insert(row: SessionChildRow): void {
    this.insertStmt.run(row);
  }

  /** Forgets these leaders in one transaction. */
  delete(rows: ReadonlyArray<{ pid: number; startTicks: number }>): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows) this.deleteStmt.run(r.pid, r.startTicks);
    })();
  }

  all(): SessionChildRow[] {
    return (this.allStmt.all() as DbRow[]).map((r) => ({
      pid: r.pid, startTicks: r.start_ticks, sessionId: r.session_id, kind: r.kind, command: r.command, cwd: r.cwd,
      originator: r.originator, createdAt: r.created_at,
    }));
  }

  count(): number {
    return this.countStmt.get() as number;
  }
}
