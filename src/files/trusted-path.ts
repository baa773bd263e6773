// Whether a directory is under the user's control: every directory from / down to it is owned
// by the user or root and cannot be changed by anyone else (not writable by group or others,
// unless sticky like /tmp, where others cannot rename or delete what is ours), and every symlink
// on the way is the user's or root's. Like OpenSSH's StrictModes check, plus sticky directories.
// Pure checks on the filesystem as it is now; nothing is cached.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Why a path is refused (stable codes, like the wire errors). */
export type UnsafePathCode = 'ESYMLINK' | 'EOWNER' | 'ENOTFILE' | 'ELINKS' | 'EUNSAFEDIR' | 'ENOTDIR';

/** A path the daemon or client will not use because another user could control it. */
export class UnsafePathError extends Error {
  constructor(readonly code: UnsafePathCode, readonly path: string, reason: string) {
    super(`refusing ${path}: ${reason}`);
    this.name = 'UnsafePathError';
  }
}

const MAX_SYMLINK_HOPS = 40;

/** Effective uid of this process (-1 where the platform has none). */
function selfUid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}

/** True for the user's own uid (or on a platform without uids). */
export function ownerIsSelf(uid: number): boolean {
  const self = selfUid();
  return self < 0 || uid === self;
}

/** Owners a directory on the way may have: the user, or root (/, /home, /tmp). */
function ownerIsTrusted(uid: number): boolean {
  return uid === 0 || ownerIsSelf(uid);
}

/** A directory others may write into, made safe only by its sticky bit (like /tmp). */
export function isSharedDirectory(dir: string | Buffer): boolean {
  try {
    const st = fs.statSync(dir);
    return (st.mode & 0o022) !== 0;
  } catch {
    return false;
  }
}

/**
 * Walks dir from / resolving each symlink itself, and throws UnsafePathError when a directory on
 * the way is owned by another user or writable by group/others without the sticky bit, or a
 * symlink on the way is another user's. Returns the resolved path. With `allowMissing`, a missing
 * tail is fine (the caller creates it under the last existing, checked directory). A Buffer path
 * is walked byte for byte (a tee path need not be UTF-8).
 */
export function checkTrustedDirectory(dir: string | Buffer, opts: { allowMissing?: boolean } = {}): string {
  // Walked as latin1 text, one char per byte, so any byte sequence survives the round trip.
  const raw = Buffer.isBuffer(dir) ? dir : Buffer.from(dir, 'utf8');
  let text = raw.toString('latin1');
  if (!text.startsWith('/')) text = `${Buffer.from(process.cwd(), 'utf8').toString('latin1')}/${text}`;
  const bytes = (p: string) => Buffer.from(p, 'latin1');
  const shown = (p: string) => bytes(p).toString('utf8');
  const todo = text.split('/').filter(Boolean);
  let current = '/';
  checkDirectoryEntry(current, fs.statSync(current));
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      current = path.posix.dirname(current);
      continue;
    }
    const next = current === '/' ? `/${part}` : `${current}/${part}`;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(bytes(next));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && opts.allowMissing) return shown([next, ...todo].join('/'));
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (!ownerIsTrusted(st.uid)) {
        throw new UnsafePathError('ESYMLINK', shown(next), `it is a symbolic link owned by uid ${st.uid}, not by this user or root`);
      }
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafePathError('ESYMLINK', shown(text), 'too many symbolic links on the way');
      const target = fs.readlinkSync(bytes(next), { encoding: 'buffer' }).toString('latin1');
      todo.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) current = '/';
      continue;
    }
    if (!st.isDirectory()) throw new UnsafePathError('ENOTDIR', shown(next), 'it is not a directory');
    checkDirectoryEntry(shown(next), st);
    current = next;
  }
  return shown(current);
}

/** One directory on the way: owned by the user or root, and nobody else may replace its entries. */
function checkDirectoryEntry(dir: string, st: fs.Stats): void {
  if (!ownerIsTrusted(st.uid)) {
    throw new UnsafePathError('EUNSAFEDIR', dir, `the directory is owned by uid ${st.uid}, not by this user (uid ${selfUid()}) or root`);
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new UnsafePathError('EUNSAFEDIR', dir, `the directory's mode is ${mode}: group or others can write to it and it is not sticky, so another user could replace what is in it`);
  }
}
