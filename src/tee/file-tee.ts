// One tee: a StreamTap fed by a session stream, a TeeQueue and a TeeSink written one batch at a
// time. Lives from registration until unregister or session end (flushAndClose) or until its file
// fails (disconnected: it stops, releases any BLOCK pause, and never throws into the producer).
import { TeeQueue, type TeeQueueOptions } from './tee-queue';
import { copyForTee, releaseTeeCopy } from './copy-pool';
import type { TeeSink } from './file-sink';
import type { StreamTap } from '../sessions/tap-set';

export type { StreamTap };

/** How a BLOCK tee asks its producer to stop and restart reading the source. */
export interface TeeFlowControl {
  pause(): void;
  resume(): void;
}

/** Largest batch handed to one write (bytes; a single larger chunk still goes alone). With the queue
 * bound this caps a tee at queue bytes + one batch in flight. 4 MiB keeps threadpool round trips few:
 * at 1 MiB a DROP_OLDEST tee on tmpfs dropped ~15% of a 900 MiB/s cat (bench figure "tee"). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Buffers per writev (well under IOV_MAX = 1024). */
const MAX_BATCH_BUFFERS = 256;

export interface FileTeeOptions extends TeeQueueOptions {
  sink: TeeSink;
  /** BLOCK mode: pause/resume of the source; ignored in DROP_OLDEST. */
  flow?: TeeFlowControl;
  /** Called once when the sink fails (the tee is disconnected from then on). */
  onDisconnect?: (err: Error) => void;
}

/** Snapshot for GetSessionTeeStatus. */
export interface FileTeeStatus {
  missedBytes: number;
  disconnected: boolean;
  /** The sink's error once disconnected ("ENOSPC: no space left on device, write"). */
  error: string | null;
  /** Stream bytes seen since registration, written or not. */
  streamBytes: number;
  /** Stream bytes that reached the sink (markers not counted). */
  writtenBytes: number;
}

/** A tee from a stream into a sink with a bounded queue. */
/** Bytes all tees of this daemon dropped, by reason (the metrics endpoint reports these). */
export const TEE_DROPPED_BYTES = { queue_full: 0, sink_failed: 0 };

export class FileTee implements StreamTap {
  private readonly queue: TeeQueue;
  private readonly sink: TeeSink;
  private readonly flow: TeeFlowControl | undefined;
  private readonly onDisconnect: ((err: Error) => void) | undefined;
  private writing = false;
  private paused = false;
  private ended = false;
  private disconnectError: Error | null = null;
  /** Stream bytes of the batch whose write failed (some may have reached the file before the error). */
  private lostInFlight = 0;
  private streamBytes = 0;
  private writtenBytes = 0;
  private closePromise: Promise<void> | null = null;
  private resolveClosed!: () => void;
  /** Resolves once the sink is closed (by flushAndClose, end() or unregister). */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  private idleWaiters: Array<() => void> = [];

  constructor(opts: FileTeeOptions) {
    this.queue = new TeeQueue(opts);
    this.sink = opts.sink;
    this.flow = opts.mode === 'block' ? opts.flow : undefined;
    this.onDisconnect = opts.onDisconnect;
  }

  get disconnected(): boolean { return this.disconnectError !== null; }

  status(): FileTeeStatus {
    return {
      missedBytes: this.queue.missedBytes + this.lostInFlight,
      disconnected: this.disconnected,
      error: this.disconnectError?.message ?? null,
      streamBytes: this.streamBytes,
      writtenBytes: this.writtenBytes,
    };
  }

  /** Called by the stream for every chunk, in order; never blocks and never throws. */
  write(chunk: Buffer, transient = false): void {
    if (this.ended || this.disconnected || chunk.length === 0) return;
    if (transient) {
      for (const copy of copyForTee(chunk)) this.write(copy);
      return;
    }
    this.streamBytes += chunk.length;
    const missedBefore = this.queue.missedBytes;
    const full = this.queue.push(chunk);
    TEE_DROPPED_BYTES.queue_full += this.queue.missedBytes - missedBefore;
    if (full && this.flow && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
    this.pump();
  }

  /** The stream ended (session exit): flush what is queued, then close. */
  end(): void {
    void this.flushAndClose();
  }

  /** Stops taking chunks, writes everything queued, closes the sink; resolves after that. */
  flushAndClose(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.ended = true;
    this.closePromise = (async () => {
      await this.idle();
      this.releasePause();
      await this.sink.close().catch(() => {});
      this.resolveClosed();
    })();
    return this.closePromise;
  }

  private idle(): Promise<void> {
    if (!this.writing && (this.queue.length === 0 || this.disconnected)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.writing || this.disconnected) return;
    const batch = this.queue.take(MAX_BATCH_BYTES, MAX_BATCH_BUFFERS);
    if (batch.buffers.length === 0) {
      this.settleIdle();
      return;
    }
    this.writing = true;
    if (this.paused && this.queue.lowWater) this.releasePause();
    this.sink.write(batch.buffers).then(
      () => {
        for (const buf of batch.buffers) releaseTeeCopy(buf);
        this.writing = false;
        this.writtenBytes += batch.streamBytes;
        this.pump();
      },
      (err: unknown) => {
        for (const buf of batch.buffers) releaseTeeCopy(buf);
        this.writing = false;
        this.lostInFlight = batch.streamBytes;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private fail(err: Error): void {
    if (this.disconnected) return;
    this.disconnectError = err;
    TEE_DROPPED_BYTES.sink_failed += this.queue.discard() + this.lostInFlight;
    this.releasePause();
    this.settleIdle();
    try {
      this.onDisconnect?.(err);
    } catch {
      // A listener's failure must not reach the producer.
    }
  }

  private releasePause(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flow?.resume();
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

