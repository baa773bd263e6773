// The file end of a tee: opens an OS-native path (APPEND or TRUNCATE), owns the fd until close,
// and writes batches asynchronously. The TeeSink interface lets tests inject slow or failing sinks.
import * as fs from 'node:fs';
import { openNoFollow, UnsafePathError } from '../files/no-follow';
import { checkTrustedDirectory } from '../files/trusted-path';

/** How a tee file is opened. */
export type TeeFileMode = 'append' | 'truncate';

/** Where a tee's bytes go; one write in flight at a time. */
export interface TeeSink {
  /** Writes every byte of buffers, in order; rejects with the OS error (ENOSPC, EIO, ...). */
  write(buffers: Buffer[]): Promise<void>;
  /** Releases the sink; called once, after the last write settled. */
  close(): Promise<void>;
}

/** A tee file could not be opened; names the path and the OS reason. */
export class TeeOpenError extends Error {
  constructor(readonly path: Buffer, readonly osCode: string, reason: string) {
    super(`cannot open tee file ${JSON.stringify(displayPath(path))}: ${osCode} (${reason})`);
    this.name = 'TeeOpenError';
  }
}

/** A path's bytes shown as text (invalid UTF-8 shows as U+FFFD; the bytes are used as given). */
export function displayPath(path: Buffer): string {
  return path.toString('utf8');
}

/** Test-only: each write waits this long first (RUNPM_TEST_TEE_WRITE_DELAY_MS; 0 = off). */
export function testWriteDelayMs(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.RUNPM_TEST_TEE_WRITE_DELAY_MS ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

const EAGAIN_RETRY_MS = 10;

/**
 * Opens path (raw bytes, not decoded) for a tee, refusing a path outside the user's control: a
 * directory on the way that another user could change (see checkTrustedDirectory), a symlink at
 * the last component (never followed: O_NOFOLLOW), a file or FIFO of another owner, a hard link in
 * a shared directory. A character device (/dev/null, a terminal) is fine. O_NONBLOCK so that a FIFO
 * without a reader fails (ENXIO) instead of hanging a threadpool thread; EAGAIN on writes is
 * retried. libuv adds O_CLOEXEC. TRUNCATE empties the file only after those checks passed.
 */
export async function openFileSink(path: Buffer, mode: TeeFileMode, writeDelayMs = 0): Promise<FileSink> {
  try {
    checkTrustedDirectory(parentDirectory(path));
    const fd = await openNoFollow(path, mode === 'append' ? 'append' : 'truncate', { allowFifo: true, allowCharDevice: true });
    return new FileSink(fd, writeDelayMs);
  } catch (err) {
    if (err instanceof UnsafePathError) throw new TeeOpenError(path, err.code, err.message.replace(/^refusing [^:]*: /, ''));
    const e = err as NodeJS.ErrnoException;
    throw new TeeOpenError(path, e.code ?? 'EIO', describeOsError(e));
  }
}

/** The directory of a raw-bytes path ('.' for a bare name: the daemon's cwd, as open(2) would). */
function parentDirectory(path: Buffer): Buffer | string {
  const i = path.lastIndexOf(0x2f);
  if (i < 0) return '.';
  return i === 0 ? '/' : path.subarray(0, i);
}

function describeOsError(e: NodeJS.ErrnoException): string {
  // Node's message is "ENOENT: no such file or directory, open '...'": keep the reason part.
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  return m ? m[1] : e.message;
}

/** A tee file opened by openFileSink; the fd lives until close(). */
export class FileSink implements TeeSink {
  private closed = false;

  constructor(readonly fd: number, private readonly writeDelayMs = 0) {}

  async write(buffers: Buffer[]): Promise<void> {
    if (this.writeDelayMs > 0) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    let rest = buffers;
    while (rest.length > 0) {
      let written: number;
      try {
        written = await new Promise<number>((resolve, reject) => fs.writev(this.fd, rest, (err, n) => (err ? reject(err) : resolve(n))));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          await new Promise((r) => setTimeout(r, EAGAIN_RETRY_MS));
          continue;
        }
        throw err;
      }
      rest = skipBytes(rest, written);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => fs.close(this.fd, () => resolve()));
  }
}

/** What is left of buffers after the first n bytes were written (short write). */
export function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i].length) {
    n -= buffers[i].length;
    i++;
  }
  if (i === buffers.length) return [];
  const rest = buffers.slice(i);
  if (n > 0) rest[0] = rest[0].subarray(n);
  return rest;
}
