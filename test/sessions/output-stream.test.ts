// Unit tests of OutputStream: the attach pump over a fake channel, taps, source pausing, release by identity.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { OutputStream, type AttachFrameCodec } from '../../src/sessions/output-stream';
import type { StreamChannel } from '../../src/daemon/dispatch';

const codec: AttachFrameCodec = {
  bytes: (b) => Buffer.concat([Buffer.from('B:'), b]),
  bytesField: 1,
  missed: (n) => Buffer.from(`M:${n}`),
  eof: () => Buffer.from('EOF'),
  exitCode: (c) => Buffer.from(`X:${c}`),
  error: (m) => Buffer.from(`E:${m}`),
  stolenBy: (l) => Buffer.from(`S:${l}`),
};

/** A channel whose socket accepts `budget` frames before it says "wait for drain". */
class FakeChannel implements StreamChannel {
  readonly frames: string[] = [];
  readonly socket = Object.assign(new EventEmitter(), { destroyed: false, cork() {}, uncork() {} }) as unknown as StreamChannel['socket'];
  closed = false;
  ended = false;
  private closeListeners: Array<() => void> = [];
  constructor(readonly clientLabel: string, public budget = Infinity) {
    // Out of budget = the socket holds more than the pump's byte budget: wait for 'drain'.
    Object.defineProperty(this.socket, 'writableLength', { get: () => (this.budget > 0 ? 0 : Number.MAX_SAFE_INTEGER) });
  }
  writeFrame(body: Uint8Array): boolean {
    this.frames.push(Buffer.from(body).toString());
    return --this.budget > 0;
  }
  writeEncodedFrame(frame: Buffer): boolean {
    // [4-byte length][0x0a][varint length][payload] → "B:payload", like codec.bytes above.
    let at = 5;
    while (frame[at] & 0x80) at++;
    return this.writeFrame(Buffer.concat([Buffer.from('B:'), frame.subarray(at + 1)]));
  }
  onInput(): void {}
  onClose(l: () => void): void { this.closeListeners.push(l); }
  end(): void { this.ended = true; }
  drain(budget: number): void { this.budget = budget; this.socket.emit('drain'); }
  close(): void { this.closed = true; for (const l of this.closeListeners) l(); }
}

describe('OutputStream', () => {
  it('streams live bytes, then exactly one terminal frame after the last byte', () => {
    const s = new OutputStream('stdout of test', 1024, codec);
    s.push(Buffer.from('before'));
    const g = s.attach('a');
    expect(g.backlog.toString()).toBe('before');
    const ch = new FakeChannel('a');
    g.attachment.start(ch);
    s.push(Buffer.from('live'));
    s.end({ kind: 'exit', code: 3 });
    s.end({ kind: 'exit', code: 3 });
    expect(ch.frames).toEqual(['B:live', 'X:3']);
    expect(ch.ended).toBe(true);
    expect(s.attachedBy).toBeNull();
  });

  it('stops at backpressure and reports exactly what the ring dropped past the cursor', () => {
    const s = new OutputStream('stdout of test', 8, codec);
    const g = s.attach('slow');
    const ch = new FakeChannel('slow', 1);
    g.attachment.start(ch);
    s.push(Buffer.from('abcd')); // written, socket now full
    s.push(Buffer.from('efghijklmnop')); // 16 bytes total, ring holds 8: cursor at 4, oldest 8
    expect(ch.frames).toEqual(['B:abcd']);
    ch.drain(Infinity);
    expect(ch.frames).toEqual(['B:abcd', 'M:4', 'B:ijklmnop']);
  });

  it('refuses a second attach, lets a steal evict by identity, and ignores the evicted client closing', () => {
    const s = new OutputStream('stdout of test', 64, codec);
    const first = s.attach('one');
    const ch1 = new FakeChannel('one');
    first.attachment.start(ch1);
    expect(() => s.attach('two')).toThrow(/already attached by one/);
    const second = s.attach('two', { steal: true });
    expect(ch1.frames).toEqual(['S:two']);
    ch1.close(); // the evicted socket closing must not clear the stealer's slot
    expect(s.attachedBy).toBe('two');
    const ch2 = new FakeChannel('two');
    second.attachment.start(ch2);
    s.push(Buffer.from('x'));
    expect(ch2.frames).toEqual(['B:x']);
    expect(s.detach()).toBe(true);
    expect(ch2.frames).toEqual(['B:x', 'E:detached']);
    expect(s.detach()).toBe(false);
  });

  it('calls taps in order after the ring got the chunk, ends them once, and ref-counts source pauses', () => {
    const s = new OutputStream('stdout of test', 64, codec);
    const log: string[] = [];
    const tap = (name: string) => ({
      write: (c: Buffer) => log.push(`${name}:${c.toString()}:${s.ring.writeOffset}`),
      end: () => log.push(`${name}:end`),
    });
    const t1 = tap('t1');
    s.addTap(t1);
    s.addTap(tap('t2'));
    s.push(Buffer.from('ab'));
    s.removeTap(t1);
    s.push(Buffer.from('c'));
    s.end({ kind: 'eof' });
    s.end({ kind: 'exit', code: 0 });
    s.addTap(tap('late'));
    expect(log).toEqual(['t1:ab:2', 't2:ab:2', 't2:c:3', 't2:end', 'late:end']);

    const calls: string[] = [];
    s.setSource({ pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    const k1 = {};
    const k2 = {};
    s.pauseSource(k1);
    s.pauseSource(k2);
    s.pauseSource(k1);
    s.resumeSource(k1);
    s.resumeSource(k1);
    expect(calls).toEqual(['pause']);
    s.resumeSource(k2);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('splits output into frames of at most 64 KiB', () => {
    const s = new OutputStream('stdout of test', 1 << 20, codec);
    const g = s.attach('a');
    const ch = new FakeChannel('a');
    g.attachment.start(ch);
    s.push(Buffer.alloc(200 * 1024, 0x61));
    const sizes = ch.frames.map((f) => f.length - 2);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
  });
});
