// The per-scope pid lock beside the socket: created exclusively at start, removed at exit.
// A lock whose pid is dead (or is no longer a runpmd) is stale and replaced.
import * as fs from 'node:fs';
import { openNoFollowSync } from '../files/no-follow';
import { AlreadyRunningError } from './server';

/** Takes the lock or throws AlreadyRunningError naming the live daemon's pid. */
export function acquireInstanceLock(lockPath: string, socketPath: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // O_EXCL | O_NOFOLLOW: a symlink planted at the lock's path is refused, never followed.
      const fd = openNoFollowSync(lockPath, 'create');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(lockPath);
    if (holder !== null && holder !== process.pid && isRunpmdAlive(holder)) throw new AlreadyRunningError(holder, socketPath);
    // N.B. two daemons racing on the same stale lock can both get here; the socket bind that
    // follows (EADDRINUSE / live-socket probe) is the second barrier.
    try {
      fs.unlinkSync(lockPath);
    } catch {
      // Someone else removed it first; try again.
    }
  }
  throw new Error(`could not take the daemon lock ${lockPath}`);
}

/** Removes the lock if it is still ours. */
export function releaseInstanceLock(lockPath: string): void {
  if (readPid(lockPath) !== process.pid) return;
  try {
    fs.unlinkSync(lockPath);
  } catch {
    // Already gone.
  }
}

function readPid(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isRunpmdAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A recycled pid that is not a runpmd does not hold the lock.
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('runpmd');
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}
