// A service's log files: logs/<name>-out.log and -error.log (pm2's names), opened O_APPEND and handed to the
// child as its stdout/stderr, so output never passes through (or depends on) the daemon.
// Rotation is copy-truncate, because the child keeps writing to its own fd: the live file's bytes
// are copied into <file>.1 (older files shift up to .N, the oldest dropped), then the live file is
// truncated and the child's O_APPEND writes continue at offset 0. Each rotated file holds at most
// the limit (a burst that overshot is split into several), so at rest the total is at most
// limit × (N + 1). Bytes written in the instant between the copy and the truncate are lost (the
// same trade as logrotate's copytruncate).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openNoFollowSync } from '../files/no-follow';

export interface LogPaths {
  out: string;
  err: string;
}

/** Bytes read from the end of a file for a tail, at most. */
export const MAX_TAIL_BYTES_PER_FILE = 1024 * 1024;

/** A service name as it appears in its log file names (pm2's: anything but [A-Za-z0-9.-] becomes '-'). */
export function logFileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9.-]/g, '-');
}

/** Paths of a service's two live log files (pm2's names: <name>-out.log and <name>-error.log). */
export function logPathsOf(logsDir: string, name: string): LogPaths {
  const stem = logFileStem(name);
  return { out: path.join(logsDir, `${stem}-out.log`), err: path.join(logsDir, `${stem}-error.log`) };
}

/**
 * Opens both logs for appending (created 0600, never through a symlink, only a file of ours); the
 * caller passes the fds to the child and closes them.
 */
export function openLogFds(paths: LogPaths): [number, number] {
  const out = openNoFollowSync(paths.out, 'append', { private: true });
  try {
    return [out, openNoFollowSync(paths.err, 'append', { private: true })];
  } catch (err) {
    fs.closeSync(out);
    throw err;
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Rotates file when it has reached maxBytes; returns true if it rotated. */
export function rotateIfNeeded(file: string, maxBytes: number, keep: number): boolean {
  const size = sizeOf(file);
  if (size < maxBytes || size <= 0) return false;
  rotate(file, size, maxBytes, keep);
  return true;
}

/** Copy-truncate rotation of `size` bytes of file into chunks of at most maxBytes. */
function rotate(file: string, size: number, maxBytes: number, keep: number): void {
  const chunks = Math.ceil(size / maxBytes);
  if (keep > 0) {
    // Shift file.i → file.(i + chunks); what would land beyond .keep is dropped.
    for (let i = keep; i >= 1; i--) {
      const from = `${file}.${i}`;
      if (!fs.existsSync(from)) continue;
      if (i + chunks > keep) fs.rmSync(from, { force: true });
      else fs.renameSync(from, `${file}.${i + chunks}`);
    }
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(maxBytes, size));
      // Chunk j (0 = oldest) goes to file.(chunks - j); only the newest `keep` chunks are kept.
      for (let j = Math.max(0, chunks - keep); j < chunks; j++) {
        const start = j * maxBytes;
        const length = Math.min(maxBytes, size - start);
        const n = fs.readSync(fd, buf, 0, length, start);
        const target = `${file}.${chunks - j}`;
        const tmp = `${target}.tmp`;
        fs.writeFileSync(tmp, buf.subarray(0, n), { mode: 0o600 });
        fs.renameSync(tmp, target);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.truncateSync(file, 0);
}

/** Empties the live file and removes its rotated copies (file.1 … file.N and leftovers). */
export function flushLog(file: string): void {
  // Through the no-follow open: truncateSync(path) would empty a planted symlink's target.
  if (fs.existsSync(file)) fs.closeSync(openNoFollowSync(file, 'truncate'));
  const dir = path.dirname(file);
  const base = path.basename(file);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith(`${base}.`) && /^\d+(\.tmp)?$/.test(entry.slice(base.length + 1))) fs.rmSync(path.join(dir, entry), { force: true });
  }
}

/**
 * The last `lines` lines of a log (the live file, then its .1 if the live file holds fewer),
 * reading at most maxBytes from the end of each; never the whole file. `end` is the live file's
 * size the tail was read up to (where a follow goes on from).
 */
export function tailLines(file: string, lines: number, maxBytes = MAX_TAIL_BYTES_PER_FILE): { lines: string[]; end: number } {
  const live = tailOfFile(file, lines, maxBytes);
  if (live.lines.length < lines) live.lines.unshift(...tailOfFile(`${file}.1`, lines - live.lines.length, maxBytes).lines);
  return live;
}

function tailOfFile(file: string, lines: number, maxBytes: number): { lines: string[]; end: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return { lines: [], end: 0 };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0 || lines <= 0) return { lines: [], end: size };
    const length = Math.min(size, maxBytes);
    const buf = Buffer.allocUnsafe(length);
    const n = fs.readSync(fd, buf, 0, length, size - length);
    let text = buf.subarray(0, n).toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const parts = text.split('\n');
    // A tail that did not start at offset 0 begins mid-line: drop that fragment.
    if (length < size && parts.length > 1) parts.shift();
    return { lines: parts.slice(-lines), end: size };
  } finally {
    fs.closeSync(fd);
  }
}
