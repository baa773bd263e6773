// Shared pieces of the daemon-crash tests: processes found by a marker in their command line
// (what `ps` shows), the scope database read through a separate read-only handle, and the lines
// of daemon.log. Every test that uses a marker kills what carries it in afterEach.
import * as fs from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { waitFor } from '../helpers/daemon';

/** Live (non-zombie) processes whose command line holds the marker. */
export function processesWithMarker(marker: string): Array<{ pid: number; ppid: number }> {
  const out: Array<{ pid: number; ppid: number }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      out.push({ pid: Number(entry), ppid: Number(fields[1]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Waits until no live process carries the marker. */
export async function waitForNoMarker(marker: string, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => processesWithMarker(marker).length === 0, `no process left with ${what} (${marker})`, timeoutMs);
}

/** SIGKILLs every process carrying the marker (test cleanup). */
export function killMarker(marker: string): void {
  for (const p of processesWithMarker(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** Runs fn on a read-only handle of the scope database. */
export function withDb<T>(dbPath: string, fn: (db: BetterSqlite3.Database) => T): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Sqlite = require('better-sqlite3') as typeof BetterSqlite3;
  const db = new Sqlite(dbPath, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** PRAGMA integrity_check of the scope database ('ok' when sound). */
export function integrityOf(dbPath: string): string {
  return withDb(dbPath, (db) => (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; '));
}

/** Rows in a table of the scope database. */
export function rowCount(dbPath: string, table: string): number {
  return withDb(dbPath, (db) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number);
}

/** daemon.log lines that match. */
export function logLines(logPath: string, pattern: RegExp): string[] {
  if (!fs.existsSync(logPath)) return [];
  return fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => pattern.test(l));
}
