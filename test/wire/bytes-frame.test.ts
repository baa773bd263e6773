import { describe, expect, it } from 'vitest';
import { encodeBytesFieldFrame, encodeFrame } from '../../src/wire/frame';
import { pb } from '../../src/wire/proto';

describe('encodeBytesFieldFrame', () => {
  it('equals the protobuf encoding of PipeStreamFrame.bytes and PtyStreamFrame.output, framed', () => {
    for (const size of [0, 1, 127, 128, 16383, 16384, 65520, 300000]) {
      const payload = Buffer.alloc(size, size % 251);
      expect(encodeBytesFieldFrame(1, payload)).toEqual(encodeFrame(pb.PipeStreamFrame.encode({ bytes: payload }).finish()));
      expect(encodeBytesFieldFrame(1, payload)).toEqual(encodeFrame(pb.PtyStreamFrame.encode({ output: payload }).finish()));
    }
  });

  it('handles field numbers that need a two-byte tag', () => {
    const payload = Buffer.from('xyz');
    const frame = encodeBytesFieldFrame(20, payload);
    expect([...frame.subarray(4, 7)]).toEqual([0xa2, 0x01, 3]);
  });
});
