// ByteRing: one fixed-capacity byte ring with drop-oldest semantics and absolute offsets.
// Lives as long as the stream it buffers (a pipe stdout/stderr or a PTY output). Offsets are plain
// numbers counting every byte ever written, exact up to 2^53 (far past 4 GiB). The backing buffer
// grows on demand up to the capacity, so an idle stream holds almost nothing.

/** First backing allocation; doubled as bytes arrive until it reaches the capacity. */
const INITIAL_ALLOC_BYTES = 4096;

/** What readFrom() hands back: the bytes, how many were lost before `offset`, and where to continue. */
export interface RingRead {
  /** Copied bytes (never a view into the ring): [from, nextOffset). */
  bytes: Buffer;
  /** Bytes between the requested offset and the oldest retained byte: dropped before they were read. */
  missed: number;
  /** Offset just after the returned bytes; pass it to the next readFrom(). */
  nextOffset: number;
}

export class ByteRing {
  private buf: Buffer;
  private written = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.buf = Buffer.alloc(0);
  }

  /** Bytes of memory the ring holds now (grows to capacity, never beyond). */
  get allocatedBytes(): number {
    return this.buf.length;
  }

  /** Total bytes ever written: the offset the next byte will get. */
  get writeOffset(): number {
    return this.written;
  }

  /** Offset of the oldest byte still held. */
  get startOffset(): number {
    return Math.max(0, this.written - this.capacity);
  }

  /** Bytes currently held. */
  get size(): number {
    return this.written - this.startOffset;
  }

  /** Bytes dropped so far (written but no longer held). */
  get droppedBytes(): number {
    return this.startOffset;
  }

  /** Appends a chunk, dropping the oldest bytes; a chunk larger than the ring keeps its tail. */
  write(chunk: Uint8Array): void {
    const len = chunk.length;
    if (len === 0) return;
    let src = chunk;
    let at = this.written;
    if (len > this.capacity) {
      src = chunk.subarray(len - this.capacity);
      at = this.written + (len - this.capacity);
    }
    this.reserve(Math.min(this.capacity, this.written + len));
    const pos = at % this.capacity;
    const first = Math.min(src.length, this.capacity - pos);
    this.buf.set(src.subarray(0, first), pos);
    if (first < src.length) this.buf.set(src.subarray(first), 0);
    this.written += len;
  }

  /**
   * Reads up to maxBytes starting at `offset`. If the ring has already dropped bytes past `offset`,
   * reading starts at startOffset and `missed` says exactly how many were lost.
   */
  readFrom(offset: number, maxBytes: number = Number.POSITIVE_INFINITY): RingRead {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.written) {
      throw new RangeError(`ring offset must be an integer in [0, ${this.written}], got ${offset}`);
    }
    const start = this.startOffset;
    const from = Math.max(offset, start);
    const missed = from - offset;
    const n = Math.max(0, Math.min(maxBytes, this.written - from));
    const out = Buffer.allocUnsafe(n);
    if (n > 0) {
      const pos = from % this.capacity;
      const first = Math.min(n, this.capacity - pos);
      this.buf.copy(out, 0, pos, pos + first);
      if (first < n) this.buf.copy(out, first, 0, n - first);
    }
    return { bytes: out, missed, nextOffset: from + n };
  }

  // Before the first wrap every offset is its own position, so growing is one copy of [0, written).
  private reserve(needed: number): void {
    if (this.buf.length >= needed) return;
    const size = Math.min(this.capacity, Math.max(needed, INITIAL_ALLOC_BYTES, this.buf.length * 2));
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, Math.min(this.buf.length, this.written));
    this.buf = next;
  }
}
