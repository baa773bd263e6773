// FrameDecoder.pushTransient (the attach client's reads land in one reused buffer) and
// bytesFieldView (a PipeStreamFrame.bytes body read by hand, as a view).
import { describe, expect, it } from 'vitest';
import { FrameDecoder, bytesFieldView, encodeBytesFieldFrame, encodeFrame } from '../../src/wire/frame';
import { WireError } from '../../src/wire/errors';
import { pb } from '../../src/wire/proto';

/** Feeds `stream` through one reused buffer in chunks of the given sizes, scribbling over it after each. */
function feedTransient(decoder: FrameDecoder, stream: Buffer, sizes: () => number): void {
  const shared = Buffer.alloc(1 << 16);
  for (let at = 0; at < stream.length;) {
    const n = Math.min(sizes(), stream.length - at, shared.length);
    stream.copy(shared, 0, at, at + n);
    decoder.pushTransient(shared.subarray(0, n));
    shared.fill(0xee); // the owner reuses its buffer: nothing handed out may still point into it
    at += n;
  }
}

describe('FrameDecoder.pushTransient', () => {
  it('hands out every body intact however reads split frames, with empty bodies and big ones', () => {
    const bodies = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(200_000, 7), Buffer.from('tail'), Buffer.alloc(0)];
    bodies[2].write('marker', 150_000);
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return 1 + (seed % 9000);
    };
    for (const sizes of [() => 1, () => 3, () => 65_536, random]) {
      const got: Buffer[] = [];
      const decoder = new FrameDecoder((b) => got.push(b));
      feedTransient(decoder, stream, sizes);
      expect(got.map((b) => b.length)).toEqual(bodies.map((b) => b.length));
      got.forEach((b, i) => expect(b.equals(bodies[i]), `body ${i}`).toBe(true));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it('counts a partial frame as pending and refuses an oversize length before buffering it', () => {
    const got: Buffer[] = [];
    const decoder = new FrameDecoder((b) => got.push(b), 100);
    decoder.pushTransient(encodeFrame(Buffer.from('hello')).subarray(0, 6));
    expect(decoder.pendingBytes).toBe(2);
    decoder.pushTransient(Buffer.from('llo'));
    expect(got.map(String)).toEqual(['hello']);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(101);
    expect(() => decoder.pushTransient(header)).toThrow(WireError);
    expect(() => decoder.pushTransient(header)).not.toThrow(); // failed for good: ignored
    expect(decoder.pendingBytes).toBe(0);
  });
});

describe('FrameDecoder.bodyRemainder / bodyFilled (reads straight into a big body)', () => {
  it('mixes direct reads into bodies with copied reads, as the attach client does, and loses nothing', () => {
    const bodies = [Buffer.alloc(70_000, 1), Buffer.from('small'), Buffer.alloc(65_520, 2), Buffer.alloc(0), Buffer.alloc(40_000, 3)];
    bodies[0].write('first', 60_000);
    bodies[4].write('last', 39_990);
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    for (const readSize of [1000, 4096, 65_536]) {
      const got: Buffer[] = [];
      const decoder = new FrameDecoder((b) => got.push(b));
      const shared = Buffer.alloc(readSize);
      let directBytes = 0;
      for (let at = 0; at < stream.length;) {
        const direct = decoder.bodyRemainder(1024);
        const target = direct ?? shared;
        const n = Math.min(target.length, stream.length - at);
        stream.copy(target, 0, at, at + n);
        if (direct) {
          directBytes += n;
          decoder.bodyFilled(n);
        } else {
          decoder.pushTransient(shared.subarray(0, n));
          shared.fill(0xee);
        }
        at += n;
      }
      expect(directBytes, `read size ${readSize}`).toBeGreaterThan(0);
      expect(got.map((b) => b.length)).toEqual(bodies.map((b) => b.length));
      got.forEach((b, i) => expect(b.equals(bodies[i]), `body ${i}, read size ${readSize}`).toBe(true));
      expect(decoder.pendingBytes).toBe(0);
      expect(decoder.bodyRemainder(1)).toBeNull();
    }
  });

  it('offers no remainder between frames, near a body\'s end, or once failed', () => {
    const decoder = new FrameDecoder(() => {}, 100_000);
    expect(decoder.bodyRemainder(1)).toBeNull();
    decoder.pushTransient(encodeFrame(Buffer.alloc(5000)).subarray(0, 4 + 4000));
    expect(decoder.bodyRemainder(1001)).toBeNull();
    expect(decoder.bodyRemainder(1000)!.length).toBe(1000);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(200_000);
    decoder.bodyFilled(1000);
    expect(() => decoder.pushTransient(header)).toThrow(WireError);
    expect(decoder.bodyRemainder(1)).toBeNull();
  });
});

describe('bytesFieldView', () => {
  it('returns the payload of a one-field bytes body as a view, for short and multi-byte lengths', () => {
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 65_520]) {
      const payload = Buffer.alloc(size, 3);
      const body = encodeBytesFieldFrame(1, payload).subarray(4);
      const view = bytesFieldView(body, (1 << 3) | 2)!;
      expect(view, `size ${size}`).not.toBeNull();
      expect(view.equals(payload)).toBe(true);
      expect(view.buffer).toBe(body.buffer);
    }
  });

  it('declines anything else so the caller decodes it normally', () => {
    const tag = (1 << 3) | 2;
    expect(bytesFieldView(Buffer.from(pb.PipeStreamFrame.encode({ missedBytes: 5 }).finish()), tag)).toBeNull();
    expect(bytesFieldView(Buffer.from(pb.PipeStreamFrame.encode({ eof: true }).finish()), tag)).toBeNull();
    expect(bytesFieldView(Buffer.alloc(0), tag)).toBeNull();
    // A length that does not match the body (truncated, or a second field after it).
    expect(bytesFieldView(Buffer.from([tag, 5, 1, 2]), tag)).toBeNull();
    expect(bytesFieldView(Buffer.from([tag, 1, 9, 0x10, 1]), tag)).toBeNull();
    expect(bytesFieldView(Buffer.from([tag, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), tag)).toBeNull();
  });
});
