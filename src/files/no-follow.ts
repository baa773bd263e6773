// Opening files the daemon writes (its log, lock, reserve, service logs, dumps, tees) without
// following a symlink planted at the last component, and refusing what another user could have
// put there: a file of another owner, a FIFO or device where a file belongs, a hard link in a
// shared directory. Pure helpers, nothing held: the caller owns the fd it gets.
import * as fs from 'node:fs';
import { UnsafePathError, isSharedDirectory, ownerIsSelf } from './trusted-path';

export { UnsafePathError } from './trusted-path';

/**
 * What the open is for:
 * - `read`: O_RDONLY;
 * - `append`: O_WRONLY | O_CREAT | O_APPEND (logs);
 * - `write`: O_WRONLY | O_CREAT, positioned at 0, nothing truncated;
 * - `truncate`: like `write`, then ftruncate(0) once the checks passed (O_TRUNC would truncate
 *   before they could run: the file of another user that we may write would already be emptied);
 * - `create`: O_WRONLY | O_CREAT | O_EXCL, a new file only (temp files, locks).
 */
export type OpenIntent = 'read' | 'append' | 'write' | 'truncate' | 'create';

export interface NoFollowOptions {
  /** Mode of a file this open creates (default 0600). */
  mode?: number;
  /** Accept a FIFO (tees may write into one; it must still be ours). Default false. */
  allowFifo?: boolean;
  /** Accept a character device such as /dev/null or a terminal (no user can plant one). Default false. */
  allowCharDevice?: boolean;
  /**
   * Who must own the file: `self` (default for every intent but `read`) refuses a file of another
   * uid, `any` accepts it (reading a file the user named).
   */
  owner?: 'self' | 'any';
  /** The daemon's own file: group and other permission bits are removed if present (fchmod). */
  private?: boolean;
  /**
   * The directory holding the file is writable by others (sticky, like /tmp): a regular file with
   * more than one link is refused (a hard link to someone else's file). Found out when not given.
   */
  sharedDirectory?: boolean;
}

const INTENT_FLAGS: Record<OpenIntent, number> = {
  read: fs.constants.O_RDONLY,
  append: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND,
  write: fs.constants.O_WRONLY | fs.constants.O_CREAT,
  truncate: fs.constants.O_WRONLY | fs.constants.O_CREAT,
  create: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
};

/** open(2) flags for an intent: O_NOFOLLOW always; O_NONBLOCK so a planted FIFO never blocks the open. */
export function noFollowFlags(intent: OpenIntent): number {
  return INTENT_FLAGS[intent] | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
}

/** Opens file without following a symlink at its last component; throws UnsafePathError or the OS error. */
export function openNoFollowSync(file: fs.PathLike, intent: OpenIntent, opts: NoFollowOptions = {}): number {
  let fd: number;
  try {
    fd = fs.openSync(file, noFollowFlags(intent), opts.mode ?? 0o600);
  } catch (err) {
    throw explainOpenError(file, err);
  }
  try {
    checkOpened(file, fs.fstatSync(fd), intent, opts);
    applyAfterChecks(fd, intent, opts, fs.fstatSync(fd).mode);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** openNoFollowSync off the main thread (libuv threadpool): for opens a client request triggers. */
export async function openNoFollow(file: fs.PathLike, intent: OpenIntent, opts: NoFollowOptions = {}): Promise<number> {
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => fs.open(file, noFollowFlags(intent), opts.mode ?? 0o600, (e, n) => (e ? reject(e) : resolve(n))));
  } catch (err) {
    throw explainOpenError(file, err);
  }
  try {
    const st = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (e, s) => (e ? reject(e) : resolve(s))));
    checkOpened(file, st, intent, opts);
    applyAfterChecks(fd, intent, opts, st.mode);
    return fd;
  } catch (err) {
    fs.close(fd, () => {});
    throw err;
  }
}

/** Runs the checks on what an open returned; throws UnsafePathError naming the path and the reason. */
function checkOpened(file: fs.PathLike, st: fs.Stats, intent: OpenIntent, opts: NoFollowOptions): void {
  const shown = showPath(file);
  const kindOk = st.isFile()
    || (opts.allowFifo === true && st.isFIFO())
    || (opts.allowCharDevice === true && st.isCharacterDevice());
  if (!kindOk) {
    throw new UnsafePathError('ENOTFILE', shown, `it is ${describeKind(st)}, not a regular file`);
  }
  const owner = opts.owner ?? (intent === 'read' ? 'any' : 'self');
  // A character device cannot be planted by an unprivileged user (mknod needs CAP_MKNOD).
  if (owner === 'self' && !st.isCharacterDevice() && !ownerIsSelf(st.uid)) {
    throw new UnsafePathError('EOWNER', shown, `it is owned by uid ${st.uid}, not by this user (uid ${selfUid()})`);
  }
  if (intent !== 'read' && st.isFile() && st.nlink > 1) {
    const shared = opts.sharedDirectory ?? isSharedDirectory(parentOf(file));
    if (shared) {
      throw new UnsafePathError('ELINKS', shown, `it has ${st.nlink} hard links in a directory others can write to (a link to another file)`);
    }
  }
}

function applyAfterChecks(fd: number, intent: OpenIntent, opts: NoFollowOptions, mode: number): void {
  if (intent === 'truncate') fs.ftruncateSync(fd, 0);
  if (opts.private === true && (mode & 0o077) !== 0) fs.fchmodSync(fd, mode & 0o700);
}

/**
 * ELOOP from O_NOFOLLOW, EEXIST from O_EXCL, and EACCES from the kernel's protected_symlinks (a
 * symlink of another user in a sticky directory) may all mean "the last component is a symlink":
 * say so plainly.
 */
function explainOpenError(file: fs.PathLike, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ELOOP' || e.code === 'EEXIST' || e.code === 'EACCES') {
    let isLink = false;
    try {
      isLink = fs.lstatSync(file).isSymbolicLink();
    } catch {
      // Gone meanwhile: report the OS error.
    }
    if (isLink) return new UnsafePathError('ESYMLINK', showPath(file), 'it is a symbolic link (files the daemon writes are never opened through one)');
  }
  if (e.code === 'ENXIO') {
    const uid = ownerOf(file);
    if (uid !== null && !ownerIsSelf(uid)) return new UnsafePathError('EOWNER', showPath(file), `it is a FIFO owned by uid ${uid}, not by this user (uid ${selfUid()})`);
    return new UnsafePathError('ENOTFILE', showPath(file), 'it is a FIFO with no reader');
  }
  return e;
}

function ownerOf(file: fs.PathLike): number | null {
  try {
    return fs.lstatSync(file).uid;
  } catch {
    return null;
  }
}

function describeKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function showPath(file: fs.PathLike): string {
  return Buffer.isBuffer(file) ? file.toString('utf8') : String(file);
}

/** The directory part of a path, as bytes when the path is bytes. */
function parentOf(file: fs.PathLike): string | Buffer {
  const raw = Buffer.isBuffer(file) ? file : Buffer.from(String(file), 'utf8');
  const i = raw.lastIndexOf(0x2f);
  if (i < 0) return '.';
  return i === 0 ? '/' : raw.subarray(0, i);
}

function selfUid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}
