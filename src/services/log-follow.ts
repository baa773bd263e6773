// Following services' log files for ServiceLogs with follow set: each file is read from where the
// tail ended, as it grows (inotify through fs.watch, a timer as the fallback), and handed on as
// complete lines. While the consumer is full, reading stops (the file keeps the bytes) and goes on
// once it drains, so memory stays at one chunk per file. A file renamed away (rotation) is read to
// its end before the new one at the path; one that shrank (truncated) is read again from 0.
// Lives until close().
import * as fs from 'node:fs';

/** Largest read per file at a time. */
export const FOLLOW_CHUNK_BYTES = 64 * 1024;
/** A line longer than this is handed on in pieces. */
export const MAX_FOLLOW_LINE_BYTES = 256 * 1024;
/** Fallback check period, for changes inotify did not report. */
const FOLLOW_POLL_MS = 250;
/** A burst of writes is read once per this many ms. */
const CHANGE_COALESCE_MS = 5;

export type LogStream = 'out' | 'err';

/** One file to follow and from where. */
export interface FollowTarget {
  service: string;
  serviceId: number;
  stream: LogStream;
  path: string;
  /** Byte offset to start at (the size the tail was read up to). */
  offset: number;
}

/** What the follower hands on: complete lines of one file. */
export interface LogChunk {
  service: string;
  serviceId: number;
  stream: LogStream;
  lines: string[];
}

interface Followed extends FollowTarget {
  fd: number | null;
  ino: number;
  partial: string;
  watcher: fs.FSWatcher | null;
}

export class LogFollower {
  private readonly files: Followed[] = [];
  private readonly buf = Buffer.allocUnsafe(FOLLOW_CHUNK_BYTES);
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private paused = false;
  private closed = false;

  /** `deliver` returns false when the consumer is full: reading stops until resume(). */
  constructor(private readonly deliver: (chunk: LogChunk) => boolean) {}

  /** Starts following (reads what is already past each offset at once). */
  start(targets: FollowTarget[]): void {
    for (const t of targets) this.add(t);
    this.timer = setInterval(() => this.readAll(), FOLLOW_POLL_MS);
    this.timer.unref();
    this.readAll();
  }

  /** Follows one more file (a service defined after the follow began). */
  add(target: FollowTarget): void {
    if (this.closed || this.files.some((f) => f.path === target.path)) return;
    const f: Followed = { ...target, fd: null, ino: 0, partial: '', watcher: null };
    try {
      f.watcher = fs.watch(target.path, { persistent: false }, () => this.schedule());
      f.watcher.on('error', () => f.watcher?.close());
    } catch {
      // Not there yet (or not watchable): the timer still reads it.
    }
    this.files.push(f);
  }

  /** The consumer drained: go on reading. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.readAll();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    for (const f of this.files) {
      f.watcher?.close();
      if (f.fd !== null) fs.closeSync(f.fd);
      f.fd = null;
    }
  }

  private schedule(): void {
    if (this.pending || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.readAll();
    }, CHANGE_COALESCE_MS);
  }

  private readAll(): void {
    for (const f of this.files) {
      if (this.paused || this.closed) return;
      try {
        this.readFile(f);
      } catch {
        // A file that cannot be read now (removed, permissions) is tried again on the next tick.
        this.reset(f);
      }
    }
  }

  private reset(f: Followed): void {
    if (f.fd !== null) fs.closeSync(f.fd);
    f.fd = null;
  }

  private readFile(f: Followed): void {
    let current: fs.Stats | null = null;
    try {
      current = fs.statSync(f.path);
    } catch {
      // Gone for now (rotated, flushed, not created yet).
    }
    if (f.fd !== null && current && current.ino !== f.ino) {
      // Renamed away (rotation): what is left of the old file comes first, then the new one.
      if (!this.readToEnd(f)) return;
      this.reset(f);
      f.offset = 0;
    }
    if (f.fd === null) {
      if (!current) return;
      f.fd = fs.openSync(f.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      f.ino = fs.fstatSync(f.fd).ino;
    }
    this.readToEnd(f);
  }

  /** Reads f from its offset to its current end; false when the consumer filled up first. */
  private readToEnd(f: Followed): boolean {
    const fd = f.fd!;
    let size = fs.fstatSync(fd).size;
    if (size < f.offset) {
      // Truncated (flush, copy-truncate rotation): start again from the beginning.
      f.offset = 0;
      f.partial = '';
    }
    while (size > f.offset) {
      const n = fs.readSync(fd, this.buf, 0, Math.min(FOLLOW_CHUNK_BYTES, size - f.offset), f.offset);
      if (n <= 0) break;
      f.offset += n;
      const parts = (f.partial + this.buf.toString('utf8', 0, n)).split('\n');
      f.partial = parts.pop() ?? '';
      if (f.partial.length > MAX_FOLLOW_LINE_BYTES) {
        parts.push(f.partial);
        f.partial = '';
      }
      if (parts.length > 0) {
        const more = this.deliver({ service: f.service, serviceId: f.serviceId, stream: f.stream, lines: parts });
        if (!more) {
          this.paused = true;
          return false;
        }
      }
      size = fs.fstatSync(fd).size;
    }
    return true;
  }
}
