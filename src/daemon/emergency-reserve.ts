// The ENOSPC emergency reserve: a file of real (non-sparse) bytes in the state dir, deleted
// when the disk fills so the registry and snapshots can still be written; re-armed by a periodic
// check once space is back. Lives as long as the daemon; the check timer is a subsystem.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { openNoFollow } from '../files/no-follow';
import type { DaemonState, EmergencyReserveState } from './state';

const writeFd = promisify(fs.write);
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);

const CHUNK_BYTES = 1024 * 1024;

export function reservePath(state: DaemonState): string {
  return path.join(state.config.paths.stateDir, 'emergency.reserve');
}

/**
 * Allocates the reserve (zeros written, not a hole); sets state.emergencyReserve to 'armed', or to
 * `onFailure` when the bytes cannot be written ('degraded' at start; stays 'released' on a re-arm).
 */
export async function armEmergencyReserve(state: DaemonState, onFailure: EmergencyReserveState = 'degraded'): Promise<void> {
  const size = state.config.reserveBytes;
  if (size <= 0) {
    state.emergencyReserve = 'disabled';
    return;
  }
  const file = reservePath(state);
  try {
    const st = await fs.promises.lstat(file).catch(() => null);
    if (st && st.isFile() && st.size === size && st.blocks * 512 >= size) {
      state.emergencyReserve = 'armed';
      return;
    }
    // Never through a symlink planted at its path: truncating would empty the link's target.
    const fd = await openNoFollow(file, 'truncate', { private: true });
    try {
      const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, size));
      for (let written = 0; written < size; written += zeros.length) {
        await writeFd(fd, zeros, 0, Math.min(zeros.length, size - written));
      }
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
    state.emergencyReserve = 'armed';
  } catch (err) {
    // Only a file of ours is removed (unlink of a planted symlink removes the link, not its target).
    await fs.promises.unlink(file).catch(() => {});
    state.emergencyReserve = onFailure;
    state.log.warn(`emergency reserve could not be allocated (${(err as Error).message}); reserve is ${onFailure}`);
  }
}

/** Frees the reserve after an ENOSPC so critical writes can proceed. Returns true if it freed space. */
export function releaseEmergencyReserve(state: DaemonState, reason: string): boolean {
  if (state.emergencyReserve !== 'armed') return false;
  try {
    fs.unlinkSync(reservePath(state));
  } catch {
    // Already gone: still count it released.
  }
  state.emergencyReserve = 'released';
  state.log.warn(`emergency reserve released (${state.config.reserveBytes} bytes) after ${reason}`);
  return true;
}

/** True for a "disk full" failure from fs (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL). */
export function isEnospc(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  return err instanceof Error && /\b(ENOSPC|SQLITE_FULL)\b|database or disk is full|no space left on device/i.test(err.message);
}

/**
 * Entry point for every daemon-side write that failed (registry DB, daemon log, snapshots, state
 * files): when `err` is a disk-full error, releases the reserve (once) and logs it. Safe to call
 * from the logger itself: it logs only when it actually released. Returns true if err was ENOSPC.
 */
export function handleEnospc(state: DaemonState, reason: string, err?: unknown): boolean {
  if (err !== undefined && !isEnospc(err)) return false;
  releaseEmergencyReserve(state, reason);
  return true;
}

/**
 * Runs one critical write (registry row, service row, snapshot) with a single retry: when it fails
 * with ENOSPC and releasing the reserve freed space, the write is tried once more. Any other
 * failure, or a second ENOSPC, is thrown to the caller. `fn` must be safe to repeat (a failed
 * SQLite transaction rolls back; the snapshot writes a temp file and renames it).
 */
export function retryAfterEnospc<T>(state: DaemonState, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!isEnospc(err)) throw err;
    if (!releaseEmergencyReserve(state, `${what} hit a full disk (${(err as Error).message})`)) throw err;
    state.log.info(`retrying ${what} after releasing the emergency reserve`);
    return fn();
  }
}

/** Whether the filesystem holding the state dir has room for the reserve plus a margin of the same size. */
async function hasRoomToReArm(state: DaemonState): Promise<boolean> {
  try {
    const st = await fs.promises.statfs(state.config.paths.stateDir);
    return st.bavail * st.bsize > 2 * state.config.reserveBytes;
  } catch {
    return false;
  }
}

/**
 * Runs once at daemon start: arms the reserve, then every reserveRecheckMs re-arms a released (or
 * degraded) reserve when free space exceeds reserve + margin. Registers its timer as a subsystem.
 */
export function startEmergencyReserve(state: DaemonState): void {
  let busy = true;
  void armEmergencyReserve(state).finally(() => (busy = false));
  const interval = state.config.reserveRecheckMs;
  if (state.config.reserveBytes <= 0 || interval <= 0) return;
  const timer = setInterval(() => {
    if (busy || (state.emergencyReserve !== 'released' && state.emergencyReserve !== 'degraded')) return;
    busy = true;
    void (async () => {
      const previous = state.emergencyReserve;
      if (!(await hasRoomToReArm(state))) return;
      await armEmergencyReserve(state, previous);
      if (state.emergencyReserve === 'armed') state.log.info(`emergency reserve re-armed (${state.config.reserveBytes} bytes): disk space is back`);
    })().finally(() => (busy = false));
  }, interval);
  timer.unref();
  state.subsystems.push({ name: 'emergency-reserve', close: async () => clearInterval(timer) });
}
