// Copies of transient chunks (views of the daemon's shared pipe read buffer) for tees, in pooled
// 64 KiB buffers. A fresh Buffer per copy cost ~17x the memcpy itself (malloc, page faults and the
// garbage collections external memory triggers): a teed `cat` spent half its daemon CPU there.
// A copy goes back to the pool once its tee wrote it; one a tee dropped is left to the GC.
// Lives as long as the daemon.
import { FramePool } from '../sessions/frame-pool';

/** Largest copy; smaller tails use the same size class (a pooled buffer is reused whole). */
export const TEE_COPY_BYTES = 64 * 1024;
/** Idle memory the pool may keep (one tee's queue drains into a few of these at a time). */
const MAX_IDLE_BYTES = 4 * 1024 * 1024;

const pool = new FramePool(MAX_IDLE_BYTES);
/** Copy (a view) → the pooled buffer behind it, for the copies not yet given back. */
const backing = new WeakMap<Buffer, Buffer>();

/** Copies chunk into pooled buffers of at most TEE_COPY_BYTES each; the caller owns the copies. */
export function copyForTee(chunk: Buffer): Buffer[] {
  const copies: Buffer[] = [];
  for (let at = 0; at < chunk.length; at += TEE_COPY_BYTES) {
    const part = chunk.subarray(at, at + TEE_COPY_BYTES);
    const buf = pool.take(TEE_COPY_BYTES);
    part.copy(buf);
    const copy = buf.subarray(0, part.length);
    backing.set(copy, buf);
    copies.push(copy);
  }
  return copies;
}

/** Gives a copy from copyForTee() back once nothing uses it; other buffers are ignored. */
export function releaseTeeCopy(copy: Buffer): void {
  const buf = backing.get(copy);
  if (!buf) return;
  backing.delete(copy);
  pool.give(buf);
}
