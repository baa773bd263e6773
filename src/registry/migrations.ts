// Forward-only schema migrations, one entry per version, never edited once released.
// Version 1: registry (tracked processes). Version 2: services.
import type { Database } from './db';
import { SERVICES_MIGRATION } from '../services/schema';

export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

export const MIGRATIONS: Migration[] = [
  SERVICES_MIGRATION,
];
