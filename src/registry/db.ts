// The scope's SQLite database (registry.sqlite3): opened once per daemon, WAL mode, schema
// versioned by PRAGMA user_version with forward-only migrations. A database written by a newer
// version is refused, never changed. Registry and services keep their tables here.
import type BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations';

export type Database = BetterSqlite3.Database;

/** Raised when the database's schema is newer than this build understands. */
export class SchemaTooNewError extends Error {
  constructor(readonly found: number, readonly supported: number, dbPath: string) {
    super(`${dbPath} has schema version ${found}, newer than this runpmd supports (${supported}); refusing to open it (upgrade running-process)`);
    this.name = 'SchemaTooNewError';
  }
}

/** Latest schema version this build writes. */
export function latestSchemaVersion(): number {
  return MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
}

/** Opens (creating if needed) and migrates the database. better-sqlite3 is loaded lazily here. */
export function openDatabase(dbPath: string): Database {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Sqlite = require('better-sqlite3') as typeof BetterSqlite3;
  const db = new Sqlite(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, dbPath);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: Database, dbPath: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = latestSchemaVersion();
  if (current > latest) throw new SchemaTooNewError(current, latest, dbPath);
  const pending = [...MIGRATIONS].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    // Each step and its version bump commit together: a crash leaves the old or the new schema.
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
