// The ENOSPC emergency reserve: a file of real (non-sparse) bytes in the state dir, deleted
// when the disk fills so the registry and snapshots can still be written; re-armed later.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DaemonState } from './state';

const CHUNK_BYTES = 1024 * 1024;

export function reservePath(state: DaemonState): string {
  return path.join(state.config.paths.stateDir, 'emergency.reserve');
}

/** Allocates the reserve (zeros written, not a hole); sets state.emergencyReserve. */
export async function armEmergencyReserve(state: DaemonState): Promise<void> {
  const size = state.config.reserveBytes;
  if (size <= 0) {
    state.emergencyReserve = 'disabled';
    return;
  }
  const file = reservePath(state);
  try {
    const st = await fs.promises.stat(file).catch(() => null);
    if (st && st.size === size && st.blocks * 512 >= size) {
      state.emergencyReserve = 'armed';
      return;
    }
    const handle = await fs.promises.open(file, 'w', 0o600);
    try {
      const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, size));
      for (let written = 0; written < size; written += zeros.length) {
        await handle.write(zeros, 0, Math.min(zeros.length, size - written));
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    state.emergencyReserve = 'armed';
  } catch (err) {
    await fs.promises.unlink(file).catch(() => {});
    state.emergencyReserve = 'degraded';
    state.log.warn(`emergency reserve could not be allocated (${(err as Error).message}); running degraded`);
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
