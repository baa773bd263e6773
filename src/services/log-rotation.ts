// The pure steps of rename-and-reopen rotation (log-writer.ts runs them): how a chunk is cut into
// pieces for files of at most the limit, the staged files that hold pieces until the renames, and
// the renames that shift rotated files up. Every step can be repeated after a crash at any point.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bytes of `chunk` to write into a file that has `room` bytes left: up to its last newline that fits, 0 when none does. */
export function fittingPrefix(chunk: Buffer, room: number, fileIsEmpty: boolean): number {
  if (chunk.length <= room) return chunk.length;
  const cut = chunk.lastIndexOf(0x0a, room - 1);
  if (cut >= 0) return cut + 1;
  // A line longer than a whole file: it is cut at the limit.
  return fileIsEmpty ? room : 0;
}

/**
 * Cuts a chunk for a file holding `size` bytes: the first piece goes into it (possibly empty),
 * each later one starts a new file and fits in it.
 */
export function splitForFiles(chunk: Buffer, size: number, maxBytes: number): Buffer[] {
  const limit = Math.max(1, maxBytes);
  const room = limit - size;
  const n = room > 0 ? fittingPrefix(chunk, room, size === 0) : 0;
  const pieces = [chunk.subarray(0, n)];
  for (let rest = chunk.subarray(n); rest.length > 0;) {
    const m = fittingPrefix(rest, limit, true);
    pieces.push(rest.subarray(0, m));
    rest = rest.subarray(m);
  }
  return pieces;
}

/** The staged file of the ith piece waiting to become the live file. */
export function stagedName(file: string, i: number): string {
  return `${file}.next-${i}`;
}

/** Staged files of a log, oldest piece first. */
export function stagedFiles(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.next-`;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.startsWith(prefix) && /^\d+$/.test(e.slice(prefix.length)))
    .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map((e) => path.join(dir, e));
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves the live file to file.1, shifting file.1 … up to the first missing one (file.keep is
 * dropped when none is missing). Filling the first gap makes a shift cut short by a crash safe to
 * run again: it goes on where it stopped instead of dropping one more file.
 */
export function shiftRotated(file: string, keep: number): void {
  if (keep <= 0) {
    fs.rmSync(file, { force: true });
    return;
  }
  let gap = 1;
  while (gap <= keep && exists(`${file}.${gap}`)) gap++;
  if (gap > keep) {
    fs.rmSync(`${file}.${keep}`, { force: true });
    gap = keep;
  }
  for (let i = gap - 1; i >= 1; i--) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  try {
    fs.renameSync(file, `${file}.1`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Whether a path names anything (a symlink too), without following it. */
export { exists as pathExists };
