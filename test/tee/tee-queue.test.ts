// Unit tests of the pure tee queue: order, bounds, drop-oldest accounting and marker placement.
import { describe, expect, it } from 'vitest';
import { TeeQueue, missedMarker, BLOCK_SLACK_CHUNKS, DEFAULT_QUEUE_CHUNKS, DEFAULT_QUEUE_BYTES } from '../../src/tee/tee-queue';
import { checkAgainstStream, letters } from './check-stream';

const b = (s: string) => Buffer.from(s);
const drain = (q: TeeQueue) => Buffer.concat(q.take(Infinity).buffers);

describe('TeeQueue', () => {
  it('keeps chunks in order, byte-exact, and applies defaults for 0', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 0, capacityBytes: 0, markers: true });
    expect(q.capacityChunks).toBe(DEFAULT_QUEUE_CHUNKS);
    expect(q.capacityBytes).toBe(DEFAULT_QUEUE_BYTES);
    for (const s of ['ab', 'c', '', 'def']) q.push(b(s));
    expect(q.length).toBe(3);
    expect(q.queuedBytes).toBe(6);
    const taken = q.take(Infinity);
    expect(taken.streamBytes).toBe(6);
    expect(Buffer.concat(taken.buffers).toString()).toBe('abcdef');
    expect(q.missedBytes).toBe(0);
    expect(q.take(100).buffers).toEqual([]);
  });

  it('DROP_OLDEST drops the oldest chunk when the chunk bound is hit and marks the gap before the next bytes', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 3, capacityBytes: 1000, markers: true });
    for (const s of ['aa', 'bbb', 'cc', 'dd', 'e']) q.push(b(s));
    expect(q.length).toBe(3);
    expect(q.missedBytes).toBe(5);
    expect(drain(q).toString()).toBe(`${missedMarker(5).toString()}ccdde`);
  });

  it('DROP_OLDEST honours the byte bound', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 100, capacityBytes: 10, markers: true });
    q.push(b('aaaa'));
    q.push(b('bbbb'));
    q.push(b('cccc'));
    expect(q.queuedBytes).toBe(8);
    expect(q.missedBytes).toBe(4);
    expect(drain(q).toString()).toBe('\n[running-process tee missed 4 bytes]\nbbbbcccc');
  });

  it('an oversize chunk keeps its tail and counts the head as missed', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 4, capacityBytes: 4, markers: true });
    q.push(b('xy'));
    q.push(b('abcdefgh'));
    expect(q.queuedBytes).toBe(4);
    expect(q.missedBytes).toBe(6);
    expect(drain(q).toString()).toBe('\n[running-process tee missed 6 bytes]\nefgh');
  });

  it('a gap after everything queued was dropped attaches to the next pushed chunk', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 1, capacityBytes: 100, markers: true });
    q.push(b('one'));
    expect(drain(q).toString()).toBe('one');
    q.push(b('two'));
    q.push(b('three'));
    expect(drain(q).toString()).toBe('\n[running-process tee missed 3 bytes]\nthree');
    q.push(b('four'));
    expect(drain(q).toString()).toBe('four');
  });

  it('suppressed markers still count missed bytes', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 2, capacityBytes: 100, markers: false });
    for (const s of ['a', 'b', 'c', 'd']) q.push(b(s));
    expect(drain(q).toString()).toBe('cd');
    expect(q.missedBytes).toBe(2);
  });

  it('BLOCK signals full at the bound and drops nothing within twice the bounds', () => {
    const q = new TeeQueue({ mode: 'block', capacityChunks: 2, capacityBytes: 100, markers: true });
    expect(q.push(b('a'))).toBe(false);
    expect(q.push(b('b'))).toBe(true);
    expect(q.push(b('c'))).toBe(true);
    expect(q.push(b('d'))).toBe(true);
    expect(q.missedBytes).toBe(0);
    expect(q.lowWater).toBe(false);
    expect(q.take(2).streamBytes).toBe(2);
    expect(q.lowWater).toBe(false);
    q.take(1);
    expect(q.lowWater).toBe(true);
    expect(drain(q).toString()).toBe('d');
  });

  it('BLOCK past twice its byte bound (a producer that could not pause) drops and counts, so memory stays bounded', () => {
    const q = new TeeQueue({ mode: 'block', capacityChunks: 2, capacityBytes: 10, markers: true });
    for (const s of ['aaaaa', 'bbbbb', 'ccccc', 'ddddd']) q.push(b(s));
    expect(q.missedBytes).toBe(0);
    q.push(b('e'));
    expect(q.queuedBytes).toBe(16);
    expect(q.missedBytes).toBe(5);
    expect(drain(q).toString()).toBe('\n[running-process tee missed 5 bytes]\nbbbbbcccccddddde');
  });

  it('BLOCK past its chunk slack drops and counts', () => {
    const q = new TeeQueue({ mode: 'block', capacityChunks: 1, capacityBytes: 1_000_000, markers: false });
    const n = 2 + BLOCK_SLACK_CHUNKS;
    for (let i = 0; i < n; i++) q.push(b('x'));
    expect(q.missedBytes).toBe(0);
    q.push(b('y'));
    expect(q.length).toBe(n);
    expect(q.missedBytes).toBe(1);
  });

  it('take() respects maxBytes and maxBuffers but always takes one chunk', () => {
    const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 10, capacityBytes: 100, markers: true });
    for (const s of ['aaaa', 'bb', 'cc', 'dd']) q.push(b(s));
    expect(q.take(2).buffers.map(String)).toEqual(['aaaa']);
    expect(q.take(4).buffers.map(String)).toEqual(['bb', 'cc']);
    expect(q.take(100, 1).buffers.map(String)).toEqual(['dd']);
  });

  it('random pushes and takes: output + missed = stream, markers exactly at the gaps', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const stream = letters(200_000, seed);
      const q = new TeeQueue({ mode: 'drop-oldest', capacityChunks: 7, capacityBytes: 3000, markers: true });
      const out: Buffer[] = [];
      let pos = 0;
      let r = seed * 7919;
      const rand = (n: number) => { r = (Math.imul(r, 1103515245) + 12345) & 0x7fffffff; return r % n; };
      while (pos < stream.length) {
        const n = Math.min(1 + rand(1500), stream.length - pos);
        q.push(stream.subarray(pos, pos + n));
        pos += n;
        if (rand(4) === 0) out.push(...q.take(1 + rand(4000)).buffers);
      }
      out.push(...q.take(Infinity).buffers);
      const result = checkAgainstStream(Buffer.concat(out), stream);
      expect(q.missedBytes).toBeGreaterThan(0);
      expect(result.missedByMarkers).toBe(q.missedBytes);
      expect(result.written + q.missedBytes).toBe(stream.length);
    }
  });
});
