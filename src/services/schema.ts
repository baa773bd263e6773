// Schema of the services table (migration version 2 of the scope database). One row per defined
// service, written on every state change, so a daemon that was killed finds every service again.
import type { Migration } from '../registry/migrations';

/** Migration 2: services (ids stable across daemon restarts, pid + start time of the current run). */
export const SERVICES_MIGRATION: Migration = {
  version: 2,
  description: 'services: definitions, desired state and the current run of each service',
  up(db) {
    db.exec(`
      CREATE TABLE services (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        desired TEXT NOT NULL CHECK (desired IN ('online', 'stopped')),
        status TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        start_time INTEGER NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        unstable_restarts INTEGER NOT NULL DEFAULT 0,
        backoff_ms INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        last_started_at REAL NOT NULL DEFAULT 0,
        last_exited_at REAL NOT NULL DEFAULT 0,
        last_exit_code INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT ''
      ) STRICT;
    `);
  },
};

/**
 * Migration 4: run_token, the id of the current (or about to be spawned) run, written before the
 * fork and carried in the run's environment (RUNPM_SERVICE_RUN), so that a daemon killed between
 * the fork and recording the pid leaves a run the next one can tell from older leftovers.
 */
export const SERVICE_RUN_TOKEN_MIGRATION: Migration = {
  version: 4,
  description: "services: run_token of the current run (crash adoption)",
  up(db) {
    db.exec(`ALTER TABLE services ADD COLUMN run_token TEXT NOT NULL DEFAULT ''`);
  },
};

/**
 * Migration 5: pm2's instances. Several services may share a name (one row, id and run each), so
 * the UNIQUE on name goes (SQLite rebuilds the table for that), and each row keeps its instance
 * number (NODE_APP_INSTANCE).
 */
export const SERVICE_INSTANCES_MIGRATION: Migration = {
  version: 5,
  description: 'services: instances share a name (no UNIQUE name), instance_index of each',
  up(db) {
    db.exec(`
      CREATE TABLE services_v5 (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        desired TEXT NOT NULL CHECK (desired IN ('online', 'stopped')),
        status TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        start_time INTEGER NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        unstable_restarts INTEGER NOT NULL DEFAULT 0,
        backoff_ms INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        last_started_at REAL NOT NULL DEFAULT 0,
        last_exited_at REAL NOT NULL DEFAULT 0,
        last_exit_code INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        run_token TEXT NOT NULL DEFAULT '',
        instance_index INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      INSERT INTO services_v5 (id, name, config, desired, status, pid, start_time, restart_count, unstable_restarts, backoff_ms,
        created_at, updated_at, last_started_at, last_exited_at, last_exit_code, last_error, run_token)
      SELECT id, name, config, desired, status, pid, start_time, restart_count, unstable_restarts, backoff_ms,
        created_at, updated_at, last_started_at, last_exited_at, last_exit_code, last_error, run_token FROM services;
      DROP TABLE services;
      ALTER TABLE services_v5 RENAME TO services;
      CREATE INDEX services_name ON services (name);
    `);
  },
};
