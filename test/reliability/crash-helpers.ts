// Shared pieces of the daemon-crash tests: processes found by a marker in their command line
// (what `ps` shows), processes of a scope the daemon does not know, the scope database read through
// a separate read-only handle, and the lines of daemon.log. Every test that uses a marker kills
// what carries it in afterEach.
import * as fs from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { waitFor, type TestDaemon } from '../helpers/daemon';

/** Whether the process's environment holds the marker (false when it cannot be read). */
function environHas(pid: string, marker: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes whose command line or environment holds the marker. */
export function processesWithMarker(marker: string): Array<{ pid: number; ppid: number }> {
  const out: Array<{ pid: number; ppid: number }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      // The marker in the command line, or exported into the environment: a shell's children (a
      // `sleep` it forked) carry only the latter, and must be found to be killed.
      if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker) && !environHas(entry, marker)) continue;
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

/** The inode of a path, or 0 when it is missing. */
function inodeOf(file: string): number {
  try {
    return fs.statSync(file).ino;
  } catch {
    return 0;
  }
}

/**
 * The numbered lines (first 8 characters) of a log and its rotated files, oldest file first, read
 * as one snapshot: the daemon may rotate while we read (a file read as .3 can be read again as .4,
 * or one skipped), so the read is repeated until the live file is the same before and after it.
 */
export function numberedLogLines(out: string, keep: number): number[] {
  for (;;) {
    const before = inodeOf(out);
    try {
      const files = [...Array.from({ length: keep }, (_, i) => `${out}.${keep - i}`), out].filter((f) => fs.existsSync(f));
      const lines = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.slice(0, 8))));
      if (inodeOf(out) === before) return lines;
    } catch {
      // A file renamed away between the listing and the read: read again.
    }
  }
}

/** daemon.log lines that match. */
export function logLines(logPath: string, pattern: RegExp): string[] {
  if (!fs.existsSync(logPath)) return [];
  return fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => pattern.test(l));
}

/** The RUNPM_* marks a process was started with (null when it is gone or unreadable). */
function marksOf(pid: number): Map<string, string> | null {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return new Map(env.filter((e) => e.startsWith('RUNPM_')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  } catch {
    return null;
  }
}

function parentOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch {
    return true;
  }
}

/**
 * Live processes that carry the daemon's scope marks (what `ps e` shows of them) but belong to
 * nothing it lists: a session child whose session is not live, a service process whose run token
 * is not the one of that service's current run, the top of a SPAWN_DAEMON tree (tagged, its parent
 * not) that the registry does not list. Each is described with its pid and marks.
 */
export async function unknownProcesses(d: TestDaemon): Promise<string[]> {
  const scope = d.paths.scopeHash;
  const sessions = new Set([...(await d.client.listPipes()), ...(await d.client.listPtys())].filter((s) => !s.exited).map((s) => s.sessionId));
  const runTokens = new Map<string, string>();
  for (const svc of await d.client.listServices()) {
    const token = svc.pid > 0 ? marksOf(svc.pid)?.get('RUNPM_SERVICE_RUN') : undefined;
    if (token) runTokens.set(String(svc.id), token);
  }
  const registered = new Set((await d.client.listActive()).map((p) => p.pid));
  const detached = new Map<number, number>(); // tagged SPAWN_DAEMON pid -> ppid
  const unknown: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    const marks = marksOf(pid);
    if (!marks || isZombie(pid)) continue;
    if (marks.get('RUNPM_DETACHED_SCOPE') === scope) detached.set(pid, parentOf(pid));
    if (marks.get('RUNPM_SESSION_SCOPE') === scope && !sessions.has(marks.get('RUNPM_SESSION_ID') ?? '')) {
      unknown.push(`pid ${pid}: session ${marks.get('RUNPM_SESSION_ID')}`);
    } else if (marks.get('RUNPM_SERVICE_SCOPE') === scope && runTokens.get(marks.get('RUNPM_SERVICE_ID') ?? '') !== marks.get('RUNPM_SERVICE_RUN')) {
      unknown.push(`pid ${pid}: service id ${marks.get('RUNPM_SERVICE_ID')} run ${marks.get('RUNPM_SERVICE_RUN')}`);
    }
  }
  for (const [pid, ppid] of detached) {
    if (!detached.has(ppid) && !registered.has(pid)) unknown.push(`pid ${pid}: detached (spawn-daemon), not in the registry`);
  }
  return unknown;
}

/** Waits until every process of the scope belongs to something the daemon lists (recovery stops the rest). */
export async function waitForNoUnknownProcess(d: TestDaemon, timeoutMs = 15_000): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(async () => (last = await unknownProcesses(d)).length === 0, 'no process the daemon does not know', timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last.join('; ')}`);
  }
}
