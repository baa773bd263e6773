// The tee copy pool (src/tee/copy-pool.ts): transient chunks are copied into pooled parts of at
// most 64 KiB that keep their bytes when the source is reused, and a copy's buffer goes back to the
// pool once given back. Buffers the pool did not hand out are ignored.
import { describe, expect, it } from 'vitest';
import { TEE_COPY_BYTES, copyForTee, releaseTeeCopy } from '../../src/tee/copy-pool';

describe('tee copy pool', () => {
  it('copies a transient chunk into pooled parts of at most 64 KiB that outlive the source', () => {
    const chunk = Buffer.alloc(TEE_COPY_BYTES * 2 + 10, 7);
    const copies = copyForTee(chunk);
    expect(copies.map((c) => c.length)).toEqual([TEE_COPY_BYTES, TEE_COPY_BYTES, 10]);
    expect(Buffer.concat(copies).equals(chunk)).toBe(true);
    chunk.fill(0); // the source's memory is reused: the copies keep their bytes
    expect(copies.every((c) => c.every((b) => b === 7))).toBe(true);
    for (const c of copies) releaseTeeCopy(c);
  });

  it('reuses a copy\'s buffer once it was given back, and only then', () => {
    const [held] = copyForTee(Buffer.from('held'));
    const [given] = copyForTee(Buffer.from('given'));
    releaseTeeCopy(given!);
    const [next] = copyForTee(Buffer.from('next'));
    expect(next!.buffer).toBe(given!.buffer); // the pool hands back what was given last
    expect(next!.buffer).not.toBe(held!.buffer);
    expect(held!.toString()).toBe('held');
    releaseTeeCopy(held!);
    releaseTeeCopy(next!);
  });

  it('ignores buffers it did not hand out: they never enter the pool', () => {
    const foreign = Buffer.allocUnsafeSlow(TEE_COPY_BYTES);
    releaseTeeCopy(foreign);
    const [copy] = copyForTee(Buffer.from('x'));
    expect(copy!.buffer).not.toBe(foreign.buffer);
    releaseTeeCopy(copy!);
  });
});
