// Forward-only schema migrations, one entry per version, never edited once released.
// Version 1: registry (tracked processes). Version 2: services. Version 3: session leaders (crash recovery).
// Version 4: the services' run token (crash adoption). Version 5: service instances (shared names).
import type { Database } from './db';
import { SERVICES_MIGRATION, SERVICE_INSTANCES_MIGRATION, SERVICE_RUN_TOKEN_MIGRATION } from '../services/schema';
import { SESSION_CHILDREN_MIGRATION } from './session-children';

export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'registry: tracked processes keyed by (pid, start_ticks)',
    up(db) {
      db.exec(`
        CREATE TABLE tracked_processes (
          pid               INTEGER NOT NULL,
          start_ticks       INTEGER NOT NULL,  -- /proc/<pid>/stat starttime: identity with pid
          created_at        REAL    NOT NULL,  -- epoch seconds the process started
          kind              TEXT    NOT NULL,
          command           TEXT    NOT NULL,
          cwd               TEXT    NOT NULL,
          originator        TEXT    NOT NULL,  -- TOOL:PID or free text
          containment       TEXT    NOT NULL,
          registered_at     REAL    NOT NULL,
          last_validated_at REAL    NOT NULL,
          PRIMARY KEY (pid, start_ticks)
        );
        CREATE INDEX tracked_processes_originator ON tracked_processes (originator);
      `);
    },
  },
  SERVICES_MIGRATION,
  SESSION_CHILDREN_MIGRATION,
  SERVICE_RUN_TOKEN_MIGRATION,
  SERVICE_INSTANCES_MIGRATION,
];
