// Unit tests of ByteRing: drop-oldest, wrap-around, oversize writes, offsets past 4 GiB, accounting.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/ring/byte-ring';

describe('ByteRing', () => {
  it('keeps everything below capacity and reads it back from any offset', () => {
    const ring = new ByteRing(16);
    ring.write(Buffer.from('hello '));
    ring.write(Buffer.from('world'));
    expect(ring.writeOffset).toBe(11);
    expect(ring.startOffset).toBe(0);
    expect(ring.readFrom(0).bytes.toString()).toBe('hello world');
    expect(ring.readFrom(6).bytes.toString()).toBe('world');
    expect(ring.readFrom(11).bytes.length).toBe(0);
    expect(ring.readFrom(0, 4)).toMatchObject({ missed: 0, nextOffset: 4 });
  });

  it('drops the oldest bytes when it wraps around and reports exactly what a reader missed', () => {
    const ring = new ByteRing(8);
    ring.write(Buffer.from('abcdef'));
    ring.write(Buffer.from('ghij')); // wraps: holds "cdefghij"
    expect(ring.startOffset).toBe(2);
    expect(ring.droppedBytes).toBe(2);
    const r = ring.readFrom(0);
    expect(r.missed).toBe(2);
    expect(r.bytes.toString()).toBe('cdefghij');
    expect(r.nextOffset).toBe(10);
    ring.write(Buffer.from('kl'));
    expect(ring.readFrom(5).bytes.toString()).toBe('fghijkl');
    expect(ring.readFrom(3)).toMatchObject({ missed: 1 });
  });

  it('keeps the tail of a single write larger than the capacity', () => {
    const ring = new ByteRing(4);
    ring.write(Buffer.from('xy'));
    ring.write(Buffer.from('0123456789'));
    expect(ring.writeOffset).toBe(12);
    const r = ring.readFrom(0);
    expect(r.bytes.toString()).toBe('6789');
    expect(r.missed).toBe(8);
  });

  it('keeps exact offsets past 4 GiB', () => {
    const ring = new ByteRing(1000);
    const chunk = Buffer.alloc(64 * 1024 * 1024, 0x61);
    chunk.write('TAIL', chunk.length - 4);
    const writes = Math.ceil((2 ** 32 + 12345) / chunk.length);
    for (let i = 0; i < writes; i++) ring.write(chunk);
    const total = writes * chunk.length;
    expect(total).toBeGreaterThan(2 ** 32);
    expect(ring.writeOffset).toBe(total);
    expect(ring.startOffset).toBe(total - 1000);
    const r = ring.readFrom(2 ** 32 + 7);
    expect(r.missed).toBe(total - 1000 - (2 ** 32 + 7));
    expect(r.bytes.length).toBe(1000);
    expect(r.bytes.subarray(996).toString()).toBe('TAIL');
    ring.write(Buffer.from('z'));
    expect(ring.readFrom(total).bytes.toString()).toBe('z');
  });

  it('satisfies delivered + missed = written for a reader that falls behind at random', () => {
    const ring = new ByteRing(1024);
    let cursor = 0;
    let delivered = 0;
    let missed = 0;
    let written = 0;
    const sent: Buffer[] = [];
    const got: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const chunk = randomBytes(Math.floor(Math.random() * 700));
      ring.write(chunk);
      sent.push(chunk);
      written += chunk.length;
      if (Math.random() < 0.3) {
        const r = ring.readFrom(cursor, Math.floor(Math.random() * 900) + 1);
        delivered += r.bytes.length;
        missed += r.missed;
        got.push(r.bytes);
        cursor = r.nextOffset;
      }
    }
    const r = ring.readFrom(cursor);
    delivered += r.bytes.length;
    missed += r.missed;
    got.push(r.bytes);
    expect(delivered + missed).toBe(written);
    // What was delivered last is exactly the stream's tail.
    const all = Buffer.concat(sent);
    expect(Buffer.concat(got).subarray(-r.bytes.length).equals(all.subarray(all.length - r.bytes.length))).toBe(true);
  });

  it('rejects bad capacities and offsets, naming the value', () => {
    expect(() => new ByteRing(0)).toThrow(/got 0/);
    const ring = new ByteRing(8);
    ring.write(Buffer.from('abc'));
    expect(() => ring.readFrom(4)).toThrow(/got 4/);
    expect(() => ring.readFrom(-1)).toThrow(/got -1/);
  });

  it('grows its memory on demand and never beyond the capacity', () => {
    const ring = new ByteRing(100_000);
    expect(ring.allocatedBytes).toBe(0);
    ring.write(Buffer.alloc(10));
    expect(ring.allocatedBytes).toBeLessThan(100_000);
    ring.write(Buffer.alloc(250_000));
    expect(ring.allocatedBytes).toBe(100_000);
  });
});
