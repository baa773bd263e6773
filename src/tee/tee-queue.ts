// The bounded queue between a session stream and one tee's file: chunks wait here until the
// writer takes them. Bounded in chunks and bytes; lives as long as its tee. Pure (no I/O).
// DROP_OLDEST drops the oldest queued chunk and remembers, on the chunk that follows the gap, how
// many bytes went missing there, so the writer can put a marker exactly where the drop happened.
// BLOCK never drops within its bounds: push() answers "full" so the producer pauses its source.

/** What a tee does when its queue is full. */
export type TeeBackpressureMode = 'drop-oldest' | 'block';

/** BLOCK overshoot allowance in chunks, beyond twice the chunk bound (see push()). */
export const BLOCK_SLACK_CHUNKS = 256;

/** Chunk capacity used when the request says 0. */
export const DEFAULT_QUEUE_CHUNKS = 1024;
/** Byte bound of a queue when none is given: a queue never holds more than this. */
export const DEFAULT_QUEUE_BYTES = 8 * 1024 * 1024;

export interface TeeQueueOptions {
  mode: TeeBackpressureMode;
  /** Most chunks queued (0 → DEFAULT_QUEUE_CHUNKS). */
  capacityChunks: number;
  /** Most bytes queued (0 → DEFAULT_QUEUE_BYTES). */
  capacityBytes: number;
  /** Write `\n[running-process tee missed N bytes]\n` where bytes were dropped. */
  markers: boolean;
}

/** One write's worth of queued bytes: buffers (markers included) and the stream bytes among them. */
export interface TakenBatch {
  buffers: Buffer[];
  streamBytes: number;
}

interface Entry {
  chunk: Buffer;
  /** Bytes dropped just before this chunk (0 = none). */
  missedBefore: number;
}

/** The marker written before the first bytes that follow a gap of `n` bytes. */
export function missedMarker(n: number): Buffer {
  return Buffer.from(`\n[running-process tee missed ${n} bytes]\n`);
}

/** A FIFO of stream chunks with explicit bounds; one per tee. */
export class TeeQueue {
  readonly mode: TeeBackpressureMode;
  readonly capacityChunks: number;
  readonly capacityBytes: number;
  readonly markers: boolean;
  private entries: Entry[] = [];
  private head = 0;
  private bytes = 0;
  /** Bytes dropped after the last queued chunk; attached to the next pushed chunk. */
  private pendingMissed = 0;
  private missed = 0;

  constructor(opts: TeeQueueOptions) {
    this.mode = opts.mode;
    this.capacityChunks = opts.capacityChunks > 0 ? opts.capacityChunks : DEFAULT_QUEUE_CHUNKS;
    this.capacityBytes = opts.capacityBytes > 0 ? opts.capacityBytes : DEFAULT_QUEUE_BYTES;
    this.markers = opts.markers;
  }

  /** Chunks waiting. */
  get length(): number { return this.entries.length - this.head; }
  /** Bytes waiting (markers not counted). */
  get queuedBytes(): number { return this.bytes; }
  /** Stream bytes dropped so far (cumulative). */
  get missedBytes(): number { return this.missed; }
  /** True when a BLOCK producer should pause (at or over either bound). */
  get full(): boolean { return this.length >= this.capacityChunks || this.bytes >= this.capacityBytes; }

  /**
   * Queues a chunk (the caller must not reuse its memory). DROP_OLDEST: drops oldest chunks until
   * the new one fits; a chunk larger than the byte bound keeps only its tail. BLOCK: always queues
   * and returns true when the producer should pause. A producer that cannot pause in time may
   * overshoot: a chunk already in flight, or a pipe Node drains by itself once the child exited
   * (child_process resumes stdio streams on exit, so the rest of the kernel pipe buffer arrives
   * unpaused). The overshoot is allowed up to BLOCK_SLACK_CHUNKS more chunks and twice the byte
   * bound; past that even BLOCK drops the oldest and counts it, so memory stays bounded.
   */
  push(chunk: Buffer): boolean {
    if (chunk.length === 0) return this.full;
    if (chunk.length > this.capacityBytes && this.mode === 'drop-oldest') {
      const cut = chunk.length - this.capacityBytes;
      this.dropAll();
      this.pendingMissed += cut;
      this.missed += cut;
      chunk = chunk.subarray(cut);
    }
    const maxChunks = this.mode === 'block' ? this.capacityChunks * 2 + BLOCK_SLACK_CHUNKS : this.capacityChunks;
    const maxBytes = this.mode === 'block' ? this.capacityBytes * 2 : this.capacityBytes;
    while (this.length > 0 && (this.length + 1 > maxChunks || this.bytes + chunk.length > maxBytes)) {
      this.dropOldest();
    }
    this.entries.push({ chunk, missedBefore: this.pendingMissed });
    this.pendingMissed = 0;
    this.bytes += chunk.length;
    return this.full;
  }

  /** True when a paused BLOCK producer may resume (at most half of either bound queued). */
  get lowWater(): boolean {
    return this.length * 2 <= this.capacityChunks && this.bytes * 2 <= this.capacityBytes;
  }

  /**
   * Takes queued chunks for one write, oldest first, up to maxBytes and maxBuffers (at least one
   * chunk), with markers inserted before chunks that follow a gap. Empty when nothing is queued.
   */
  take(maxBytes: number, maxBuffers = Infinity): TakenBatch {
    const out: Buffer[] = [];
    let taken = 0;
    while (this.length > 0 && (out.length === 0
      || (taken + this.entries[this.head].chunk.length <= maxBytes && out.length + 2 <= maxBuffers))) {
      const entry = this.entries[this.head];
      this.entries[this.head] = undefined as unknown as Entry;
      this.head++;
      this.bytes -= entry.chunk.length;
      if (entry.missedBefore > 0 && this.markers) out.push(missedMarker(entry.missedBefore));
      out.push(entry.chunk);
      taken += entry.chunk.length;
    }
    this.compact();
    return { buffers: out, streamBytes: taken };
  }

  /** Drops everything queued and counts it as missed (the file failed; nothing more will be written). */
  discard(): number {
    const dropped = this.bytes;
    this.dropAll();
    return dropped;
  }

  private dropOldest(): void {
    const entry = this.entries[this.head];
    this.entries[this.head] = undefined as unknown as Entry;
    this.head++;
    this.bytes -= entry.chunk.length;
    this.missed += entry.chunk.length;
    // The gap (what was already missing before it, plus itself) moves onto the next chunk.
    const gap = entry.missedBefore + entry.chunk.length;
    if (this.length > 0) this.entries[this.head].missedBefore += gap;
    else this.pendingMissed += gap;
    this.compact();
  }

  private dropAll(): void {
    while (this.length > 0) this.dropOldest();
  }

  /** Keeps the backing array from growing: drop consumed slots once they are half of it. */
  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
