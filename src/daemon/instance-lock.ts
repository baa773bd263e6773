// The per-scope pid lock beside the socket: created exclusively at start, removed at exit.
// A lock whose pid is dead (or is no longer a runpmd) is stale and replaced: the daemon that held
// it died without shutting down, which tells the new one to look for what it left running.
import * as fs from 'node:fs';
import { openNoFollowSync } from '../files/no-follow';
import { AlreadyRunningError } from './server';
import { procBackend } from '../proc/process-table';

/** What taking the lock found: the pid of a daemon that died holding it (a crash), or null. */
export interface InstanceLockResult {
  crashedPid: number | null;
}

/** Takes the lock or throws AlreadyRunningError naming the live daemon's pid. */
export function acquireInstanceLock(lockPath: string, socketPath: string): InstanceLockResult {
  let crashedPid: number | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // O_EXCL | O_NOFOLLOW: a symlink planted at the lock's path is refused, never followed.
      const fd = openNoFollowSync(lockPath, 'create');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return { crashedPid };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(lockPath);
    if (holder !== null && holder !== process.pid && isRunpmdAlive(holder)) throw new AlreadyRunningError(holder, socketPath);
    if (holder !== null && holder !== process.pid) crashedPid = holder;
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
  // A recycled pid that is not a runpmd (or a zombie, whose command line is empty) does not hold
  // the lock; a command line we cannot read now proves nothing, so the live pid is trusted.
  let argv: string[] | null;
  try {
    argv = procBackend().readCmdline(pid);
  } catch {
    return true;
  }
  return argv !== null && argv.join(' ').includes('runpmd');
}
