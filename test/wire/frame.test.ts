import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';
import { WireError } from '../../src/wire/errors';

function collect(max?: number) {
  const frames: Buffer[] = [];
  const decoder = new FrameDecoder((b) => frames.push(Buffer.from(b)), max);
  return { frames, decoder };
}

describe('frame codec', () => {
  it('writes a 4-byte big-endian length before the body', () => {
    const frame = encodeFrame(Buffer.from('abc'));
    expect([...frame]).toEqual([0, 0, 0, 3, 0x61, 0x62, 0x63]);
  });

  it('decodes a frame split across many writes, byte by byte', () => {
    const { frames, decoder } = collect();
    const frame = encodeFrame(Buffer.from('hello world'));
    for (const byte of frame) decoder.push(Buffer.from([byte]));
    expect(frames.map(String)).toEqual(['hello world']);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('decodes many frames from one chunk, including empty bodies', () => {
    const { frames, decoder } = collect();
    decoder.push(Buffer.concat([encodeFrame(Buffer.from('a')), encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.from('bc'))]));
    expect(frames.map(String)).toEqual(['a', '', 'bc']);
  });

  it('keeps a partial frame until the rest arrives', () => {
    const { frames, decoder } = collect();
    const two = Buffer.concat([encodeFrame(Buffer.from('first')), encodeFrame(Buffer.from('second'))]);
    decoder.push(two.subarray(0, 12));
    expect(frames.map(String)).toEqual(['first']);
    expect(decoder.pendingBytes).toBe(3);
    decoder.push(two.subarray(12));
    expect(frames.map(String)).toEqual(['first', 'second']);
  });

  it('rejects an oversize length before any of its body arrives', () => {
    const { frames, decoder } = collect(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    let caught: unknown;
    try {
      decoder.push(header);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).code).toBe('ERR_FRAME_TOO_LARGE');
    expect((caught as WireError).message).toContain('1025');
    expect(decoder.pendingBytes).toBe(0);
    decoder.push(encodeFrame(Buffer.from('x')));
    expect(frames).toEqual([]);
  });

  it('accepts a frame exactly at the limit', () => {
    const { frames, decoder } = collect(8);
    decoder.push(encodeFrame(Buffer.alloc(8, 7)));
    expect(frames[0].length).toBe(8);
  });
});
