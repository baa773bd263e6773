// Output for the local terminal during an attach, written off the event loop: Node writes to a TTY
// synchronously (process.stdout blocks until the terminal took each chunk), and while it blocked,
// keystrokes (the detach key, ^C) waited behind a flood. Here each write runs in libuv's threadpool,
// one at a time and in order, so stdin and the daemon's socket stay serviced. Lives for one attach.
import * as fs from 'node:fs';

/** Bytes handed to one write call at most (small writes are gathered up to this). */
const MAX_WRITE_BYTES = 64 * 1024;
/** How long to wait before retrying a terminal that said EAGAIN (a non-blocking descriptor). */
const EAGAIN_RETRY_MS = 1;

/** Bytes queued for the terminal, and what to call once all of them were written. */
interface Queued {
  data: Buffer;
  written?: () => void;
}

export class TtyWriter {
  private readonly queue: Queued[] = [];
  private queued = 0;
  private writing = false;
  private broken: Error | null = null;
  private idleWaiters: Array<() => void> = [];
  private belowWaiters: Array<{ bytes: number; resolve: () => void }> = [];

  /** `onWritten` sees every byte the terminal took, in order (the mode tracker). */
  constructor(private readonly fd: number, private readonly onWritten: (chunk: Buffer) => void = () => {}) {}

  /** Bytes queued and not yet handed to the terminal. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** The error that ended writing (the terminal went away), or null. */
  get error(): Error | null {
    return this.broken;
  }

  /** Queues bytes for the terminal; returns at once. `written` runs once the terminal took all of them. */
  write(data: Buffer, written?: () => void): void {
    if (this.broken || data.length === 0) return;
    this.queue.push({ data, written });
    this.queued += data.length;
    this.pump();
  }

  /** Drops what is queued (a write in progress completes). For a detach: the rest is not shown. */
  discard(): void {
    this.queue.length = 0;
    this.queued = 0;
    this.settleWaiters();
  }

  /** Resolves once nothing is queued or being written (or writing failed). */
  idle(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once at most `bytes` are queued: the reader of the daemon's stream waits on this. */
  below(bytes: number): Promise<void> {
    if (this.queued <= bytes || this.broken) return Promise.resolve();
    return new Promise((resolve) => this.belowWaiters.push({ bytes, resolve }));
  }

  private pump(): void {
    if (this.writing || this.broken || this.queue.length === 0) return;
    const batch: Queued[] = [];
    let size = 0;
    while (this.queue.length > 0 && (batch.length === 0 || size + this.queue[0]!.data.length <= MAX_WRITE_BYTES)) {
      const b = this.queue.shift()!;
      batch.push(b);
      size += b.data.length;
    }
    this.queued -= size;
    this.writing = true;
    this.writeBatch(batch, size);
  }

  private writeBatch(batch: Queued[], size: number): void {
    fs.writev(this.fd, batch.map((q) => q.data), (err, written) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        this.fail(err);
        return;
      }
      const n = err ? 0 : written;
      let rest = batch;
      if (n > 0) {
        rest = consumed(batch, n, (part) => this.onWritten(part));
      }
      if (n < size) {
        // A short write (a non-blocking terminal that is full): write the rest after a moment.
        setTimeout(() => this.writeBatch(rest, size - n), n > 0 ? 0 : EAGAIN_RETRY_MS);
        return;
      }
      this.writing = false;
      this.settleWaiters();
      this.pump();
    });
  }

  private fail(err: Error): void {
    this.broken = err;
    this.writing = false;
    this.queue.length = 0;
    this.queued = 0;
    this.settleWaiters();
  }

  private settleWaiters(): void {
    const still: typeof this.belowWaiters = [];
    for (const w of this.belowWaiters) {
      if (this.queued <= w.bytes || this.broken) w.resolve();
      else still.push(w);
    }
    this.belowWaiters = still;
    if (!this.writing && (this.queue.length === 0 || this.broken)) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const fn of idle) fn();
    }
  }
}

// Reports the first n bytes of batch as written (and the buffers written whole); returns the rest.
function consumed(batch: Queued[], n: number, report: (part: Buffer) => void): Queued[] {
  let left = n;
  const rest: Queued[] = [];
  for (const q of batch) {
    const b = q.data;
    if (left >= b.length) {
      report(b);
      left -= b.length;
      q.written?.();
    } else if (left > 0) {
      report(b.subarray(0, left));
      rest.push({ data: b.subarray(left), written: q.written });
      left = 0;
    } else {
      rest.push(q);
    }
  }
  return rest;
}
