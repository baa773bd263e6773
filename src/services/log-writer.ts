// One service log stream, owned by the daemon from the service's definition until its deletion:
// reads the stream's FIFO (log-pipe.ts) and appends what arrives to the live log file, which only
// the daemon holds open. Rotation is rename-and-reopen, never copy-truncate: each file holds at
// most the limit (a chunk is cut at its last newline that fits, so a line that fits in a file is
// never split). The part of a chunk that goes to new files is first written to staged files
// (<file>.next-1, -2 …) and only then are the renames done (live → .1 and up, staged → live), so a
// daemon killed at any step leaves every byte it read in some file; the next writer finishes the
// renames before it writes. Writes are synchronous; what is still in the FIFO waits for the next
// daemon. A full disk drops bytes, counted and logged, instead of blocking the service.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Logger } from '../daemon/log';
import { openNoFollowSync } from '../files/no-follow';
import { crashPoint } from '../daemon/crash-points';
import { openFifo } from './log-pipe';
import { pathExists, shiftRotated, splitForFiles, stagedFiles, stagedName } from './log-rotation';


export interface RotationLimits {
  maxBytes: number;
  /** Rotated files kept (file.1 … file.keep); 0 keeps none. */
  keep: number;
}

export interface LogWriterOptions {
  /** For messages: "service web out". */
  label: string;
  /** The pipe read into the file; null for a file only written through write() (the combined log). */
  fifo: string | null;
  file: string;
  limits: RotationLimits;
  log: Logger;
  /** A write failed for lack of space: release the emergency reserve and retry once (emergency-reserve.ts). */
  retryAfterEnospc(what: string, write: () => void): void;
  /** Rewrites what was read before it is written (pm2's time prefix: log-stamp.ts). */
  transform?: (chunk: Buffer) => Buffer;
  /** Gets every chunk as written here (after transform): pm2's log_file gets both streams. */
  copyTo?: (chunk: Buffer) => void;
}

/** pm2's way to discard a stream: out_file / error_file "/dev/null". */
const DISCARD = '/dev/null';

/** Opens a log file (0600, never through a symlink, a regular file only), or the discarding device. */
function openLogFile(file: string, intent: 'append' | 'create'): number {
  if (file === DISCARD) return fs.openSync(DISCARD, 'a');
  return openNoFollowSync(file, intent, { private: true });
}

/** How often a writer retries what failed (an open, the renames) and checks the live path is still its file. */
const RECHECK_MS = 1000;
const DRAIN_CHUNK_BYTES = 64 * 1024;
/** A full disk is reported again after this long, with the bytes dropped meanwhile. */
const DROP_REPORT_MS = 10_000;

export class LogWriter {
  private readonly fifoFd: number;
  /** Null without a pipe (the file is fed by write()). */
  private readonly reader: net.Socket | null;
  /**
   * Where the next byte goes: the live file, or while renames are pending the last staged file
   * (it becomes the live file). Null only while no file can be opened; the pipe is not read then.
   */
  private fileFd: number | null = null;
  private size = 0;
  private limits: RotationLimits;
  /** Staged files not yet renamed in (a rename failed): no new rotation until they are. */
  private renamesPending = false;
  private dropped = 0;
  private lastDropReportMs = 0;
  private lastOpenError = '';
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: LogWriterOptions) {
    this.limits = opts.limits;
    this.fifoFd = opts.fifo === null ? -1 : openFifo(opts.fifo, true);
    // libuv reads a FIFO like a pipe: readable events, no thread held while it is empty.
    this.reader = opts.fifo === null ? null : new net.Socket({ fd: this.fifoFd, readable: true, writable: false });
    this.reader?.on('error', (err) => opts.log.warn(`${opts.label} log: reading its pipe failed: ${err.message}`));
    // A rotation the last daemon did not finish is finished before anything new is written.
    this.finishRenames();
    // Paused before the 'data' listener, so it does not start flowing without a file to write to.
    if (!this.openTarget()) this.reader?.pause();
    this.reader?.on('data', (chunk: Buffer) => this.append(opts.transform ? opts.transform(chunk) : chunk));
    this.timer = setInterval(() => this.recheck(), RECHECK_MS);
    this.timer.unref();
  }

  /**
   * Before a run starts: a file to write to is open, or the open is tried now and its error thrown
   * (the start fails naming it, e.g. a symlink planted at the log's path).
   */
  ensureFile(): void {
    if (this.fileFd !== null) return;
    const target = this.target();
    this.writeInto(openLogFile(target, 'append'));
    this.reader?.resume();
  }

  /** Appends bytes that do not come from a pipe (the combined log's copy of each stream). */
  writeChunk(chunk: Buffer): void {
    if (!this.closed) this.append(chunk);
  }

  /** New limits after a redefinition; the next write follows them. */
  setLimits(limits: RotationLimits): void {
    this.limits = limits;
  }

  /** Daemon exit or service deletion: writes what is still in the pipe, then closes both ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const reader = this.reader;
    reader?.pause();
    if (this.fileFd !== null && reader) {
      const t = this.opts.transform ?? ((c: Buffer) => c);
      // Read from the pipe but not yet handed to 'data' (the stream's own buffer), then the pipe itself.
      for (let chunk = reader.read() as Buffer | null; chunk !== null; chunk = reader.read() as Buffer | null) this.append(t(chunk));
      this.drainPipe();
    }
    reader?.destroy(); // closes fifoFd
    if (this.fileFd !== null) fs.closeSync(this.fileFd);
    this.fileFd = null;
  }

  /** Reads the pipe empty now (non-blocking fd: EAGAIN once nothing is left). */
  private drainPipe(): void {
    const buf = Buffer.allocUnsafe(DRAIN_CHUNK_BYTES);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fifoFd, buf, 0, buf.length, null);
      } catch {
        return; // EAGAIN: empty.
      }
      if (n <= 0) return;
      const chunk = Buffer.from(buf.subarray(0, n));
      this.append(this.opts.transform ? this.opts.transform(chunk) : chunk);
    }
  }

  /** Opens a log file for appending (0600, never through a symlink); the fd, or null with the reason logged. */
  private open(file: string, intent: 'append' | 'create'): number | null {
    try {
      const fd = openLogFile(file, intent);
      this.lastOpenError = '';
      return fd;
    } catch (err) {
      // Retried each second: said once per reason.
      const message = `${this.opts.label} log: cannot open ${file}: ${(err as Error).message}`;
      if (message !== this.lastOpenError) this.opts.log.error(message);
      this.lastOpenError = message;
      return null;
    }
  }

  /** Makes fd the file the next byte goes to (closing the one before). */
  private writeInto(fd: number): void {
    if (this.fileFd !== null && this.fileFd !== fd) fs.closeSync(this.fileFd);
    this.fileFd = fd;
    this.size = fs.fstatSync(fd).size;
  }

  /** Where writing goes on: the live file, or the newest staged one while renames are pending. */
  private target(): string {
    return this.renamesPending ? stagedFiles(this.opts.file).at(-1) ?? this.opts.file : this.opts.file;
  }

  private openTarget(): boolean {
    const fd = this.open(this.target(), 'append');
    if (fd === null) return false;
    this.writeInto(fd);
    return true;
  }

  /** Appends a chunk; the part that does not fit goes to new files, rotating the live one. */
  private append(chunk: Buffer): void {
    this.opts.copyTo?.(chunk);
    const fd = this.fileFd;
    if (fd === null) {
      this.drop(chunk.length, new Error('no log file is open'));
      return;
    }
    // The file may have been emptied from outside (ServiceFlush truncates it): ask it, not a count.
    if (this.size + chunk.length > this.limits.maxBytes) this.size = fs.fstatSync(fd).size;
    const [first, ...later] = splitForFiles(chunk, this.size, this.limits.maxBytes);
    if (later.length > 0 && !this.canRotate(fd)) {
      this.write(fd, chunk);
      return;
    }
    if (first.length > 0) this.write(fd, first);
    if (later.length > 0) this.rotateWith(later);
  }

  /** Not while renames are pending (order), nor for what is not a regular file (/dev/null). */
  private canRotate(fd: number): boolean {
    return !this.renamesPending && fs.fstatSync(fd).isFile();
  }

  /** Writes each piece to its staged file, then renames them in; the last one is where writing goes on. */
  private rotateWith(pieces: Buffer[]): void {
    let last: number | null = null;
    for (let i = 0; i < pieces.length; i++) {
      const fd = this.open(stagedName(this.opts.file, i + 1), 'create');
      if (fd === null) {
        // Nothing staged from here on: the rest goes on past the limit where writing was.
        for (const piece of pieces.slice(i)) this.write(last ?? this.fileFd!, piece);
        break;
      }
      this.write(fd, pieces[i]);
      if (last !== null) fs.closeSync(last);
      last = fd;
    }
    if (last !== null) this.writeInto(last);
    this.finishRenames();
  }

  /**
   * Renames every staged file in, oldest first: the live file (if any) shifts to .1 and up, the
   * staged one takes its name. Safe to repeat after a crash at any step (shiftRotated fills the
   * first gap, a missing live file is not shifted). A failure leaves the rest for the timer.
   */
  private finishRenames(): void {
    const file = this.opts.file;
    try {
      for (const staged of stagedFiles(file)) {
        if (pathExists(file)) shiftRotated(file, this.limits.keep);
        crashPoint('log-rotated');
        fs.renameSync(staged, file);
      }
      this.renamesPending = false;
    } catch (err) {
      if (!this.renamesPending) this.opts.log.warn(`${this.opts.label} log: rotating ${file} failed (retried each second; writing on past the limit meanwhile): ${(err as Error).message}`);
      this.renamesPending = true;
    }
  }

  private write(fd: number, bytes: Buffer): void {
    try {
      this.opts.retryAfterEnospc(`writing the ${this.opts.label} log`, () => {
        for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      });
      if (fd === this.fileFd) this.size += bytes.length;
      if (this.dropped > 0) {
        this.opts.log.info(`${this.opts.label} log ${this.opts.file}: writing again; ${this.dropped} bytes of its output were dropped before`);
        this.dropped = 0;
        this.lastDropReportMs = 0;
      }
    } catch (err) {
      this.drop(bytes.length, err as Error);
    }
  }

  /** A write that failed even after the reserve was released: the bytes are dropped, and said so. */
  private drop(bytes: number, err: Error): void {
    this.dropped += bytes;
    const now = Date.now();
    if (now - this.lastDropReportMs < DROP_REPORT_MS) return;
    this.opts.log.error(`${this.opts.label} log ${this.opts.file}: ${err.message}; ${this.dropped} bytes of its output dropped so far (the service keeps running)`);
    this.lastDropReportMs = now;
  }

  /**
   * Once a second: pending renames are retried; no file open yet → open one and start reading the
   * pipe; the live path no longer names our file (deleted or moved away from outside) → a new one.
   */
  private recheck(): void {
    if (this.closed) return;
    if (this.renamesPending) this.finishRenames();
    if (this.fileFd === null) {
      if (this.openTarget()) this.reader?.resume();
      return;
    }
    if (this.renamesPending) return;
    try {
      const atPath = fs.lstatSync(this.opts.file);
      const open = fs.fstatSync(this.fileFd);
      if (atPath.ino === open.ino && atPath.dev === open.dev) return;
    } catch {
      // Missing: reopened below.
    }
    this.openTarget();
  }
}
