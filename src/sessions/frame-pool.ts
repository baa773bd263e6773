// Reusable memory for the attach pump's big output frames. Each frame is one allocation and one
// copy out of the ring; allocating it fresh meant page faults on every frame and a garbage
// collection every few dozen MiB (external memory pressure). Buffers come in power-of-two sizes
// (so a queued frame pins at most twice its bytes) and go back once the socket is done with them;
// the pool keeps at most MAX_POOLED_BYTES for the whole daemon. Lives as long as the daemon.

/** Frames smaller than this are allocated as before (small allocations are cheap; nothing pinned). */
export const MIN_POOLED_FRAME_BYTES = 16 * 1024;
/** Upper bound of memory kept idle in the pool, all size classes together. */
export const MAX_POOLED_BYTES = 8 * 1024 * 1024;

/** A size-classed free list of frame buffers. */
export class FramePool {
  private readonly free = new Map<number, Buffer[]>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes = MAX_POOLED_BYTES) {}

  /** Bytes held idle by the pool now. */
  get idleBytes(): number {
    return this.pooledBytes;
  }

  /** A buffer of at least `bytes` (its contents are garbage); give it back with give() once unused. */
  take(bytes: number): Buffer {
    const size = sizeClassOf(bytes);
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      return buf;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Returns a buffer from take(); dropped (left to the GC) when the pool is full. */
  give(buf: Buffer): void {
    const size = buf.length;
    if (size !== sizeClassOf(size) || this.pooledBytes + size > this.maxPooledBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.pooledBytes += size;
  }
}

/** The power of two at or above bytes, at least MIN_POOLED_FRAME_BYTES. */
export function sizeClassOf(bytes: number): number {
  let size = MIN_POOLED_FRAME_BYTES;
  while (size < bytes) size *= 2;
  return size;
}

/** The daemon's one pool (frames of every attachment). */
export const attachFramePool = new FramePool();
