// The daemon's file descriptor budget: work that opens fds (a session, a tee, a service run, a
// new connection) is refused with RESOURCE_EXHAUSTED while fewer than FD_RESERVE descriptors are
// left under RLIMIT_NOFILE, so accept(2) always has a descriptor for a new client, which is then
// told "too many open files" instead of being reset by libuv's EMFILE trick. One reserve fd more
// (/dev/null, held for the daemon's life) is let go for the instant of counting when even that
// would fail. Linux (/proc/self/fd, /proc/self/limits) and macOS (/dev/fd; no limit known: off).
import * as fs from 'node:fs';
import { ResourceExhaustedError } from '../wire/errors';

/** Descriptors kept free for accepting and answering clients (and for the daemon's own logging). */
export const FD_RESERVE = 16;

const FD_DIR = fs.existsSync('/proc/self/fd') ? '/proc/self/fd' : '/dev/fd';

let reserveFd: number | null = null;
let cachedLimit: number | null | undefined;

/** Runs at daemon start: holds the reserve fd. Idempotent. */
export function holdReserveFd(): void {
  if (reserveFd !== null) return;
  try {
    reserveFd = fs.openSync('/dev/null', 'r');
  } catch {
    reserveFd = null;
  }
}

/**
 * The soft RLIMIT_NOFILE, or null when the platform does not tell. Read on every call (~20 us: a
 * prlimit while the daemon runs counts at once); only fd-opening work and accepts ask.
 */
export function fdLimit(): number | null {
  if (cachedLimit === null) return null;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    cachedLimit = m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    // No /proc: unknown. Out of fds (EMFILE): the last value read still holds.
    cachedLimit = cachedLimit ?? null;
  }
  return cachedLimit;
}

/** Descriptors open in this process now (the reserve fd included); null when they cannot be counted. */
export function openFdCount(): number | null {
  try {
    return countOnce();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || reserveFd === null) return null;
  }
  // Every descriptor is in use: let the reserve go for the count, then take it back.
  fs.closeSync(reserveFd);
  reserveFd = null;
  try {
    return countOnce() + 1;
  } catch {
    return fdLimit();
  } finally {
    holdReserveFd();
  }
}

function countOnce(): number {
  // readdir holds one descriptor of its own while it reads: not counted.
  return fs.readdirSync(FD_DIR).length - 1;
}

/** "N of M file descriptors open" for messages. */
export function describeFdUse(): string {
  const open = openFdCount();
  const limit = fdLimit();
  return `${open ?? 'an unknown number of'} of ${limit ?? 'an unknown limit of'} file descriptors open`;
}

/** True when opening `needed` more descriptors would eat into the reserve. */
export function fdsExhausted(needed = 1): boolean {
  const limit = fdLimit();
  if (limit === null) return false;
  const open = openFdCount();
  if (open === null) return false;
  return open + needed > limit - FD_RESERVE;
}

/** Throws RESOURCE_EXHAUSTED naming the limit when `what` (needing `needed` fds) would eat into the reserve. */
export function checkFdHeadroom(what: string, needed = 1): void {
  if (!fdsExhausted(needed)) return;
  throw new ResourceExhaustedError(
    `${what} refused: too many open files (EMFILE): ${describeFdUse()}, and the daemon keeps ${FD_RESERVE} in reserve `
    + 'to answer clients; close sessions, tees or connections, or raise the limit (ulimit -n / LimitNOFILE)',
  );
}
