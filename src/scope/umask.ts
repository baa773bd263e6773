// The daemon's umask: 0077 for everything it creates in the scope (database, WAL, logs, snapshots),
// the user's original umask for the children it spawns. Set once at daemon start, for its lifetime.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What the daemon's own files get: no access for group or others. */
export const PRIVATE_UMASK = 0o077;

let userUmask: number | null = null;

/** Runs at daemon start before anything is opened: remembers the user's umask, sets PRIVATE_UMASK. */
export function restrictUmask(): void {
  if (userUmask === null) userUmask = process.umask(PRIVATE_UMASK);
}

/**
 * Runs a synchronous spawn (child_process.spawn, node-pty's spawn: both fork in this thread
 * before returning) under the user's umask so the child inherits it, then restores PRIVATE_UMASK.
 * N.B. a file the libuv threadpool creates during this window gets the user's umask: the daemon's
 * own files therefore also pass an explicit 0600 mode wherever they are created asynchronously.
 */
export function withUserUmask<T>(spawnFn: () => T): T {
  if (userUmask === null) return spawnFn();
  const previous = process.umask(userUmask);
  try {
    return spawnFn();
  } finally {
    process.umask(previous);
  }
}

/**
 * Runs at daemon start on the state dir: files an older runpmd created under the user's umask
 * (registry.sqlite3 and its -wal/-shm, daemon.log, logs, snapshots) lose group and other access.
 * Symlinks are left alone; entries that vanish meanwhile are skipped.
 */
export function tightenModes(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.isSymbolicLink()) continue;
    const full = path.join(dir, entry.name);
    try {
      const mode = fs.lstatSync(full).mode & 0o777;
      if ((mode & 0o077) !== 0) fs.chmodSync(full, mode & ~0o077);
    } catch {
      continue;
    }
    if (entry.isDirectory()) tightenModes(full);
  }
}
