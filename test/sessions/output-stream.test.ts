// Unit tests of OutputStream: the attach pump over a fake sink, taps, source pausing, release by identity.
import { describe, expect, it } from 'vitest';
import { OutputStream, type AttachFrameCodec } from '../../src/sessions/output-stream';
import type { AttachSink } from '../../src/sessions/attach-sink';

const codec: AttachFrameCodec = {
  bytes: (b) => Buffer.concat([Buffer.from('B:'), b]),
  bytesField: 1,
  missed: (n) => Buffer.from(`M:${n}`),
  eof: () => Buffer.from('EOF'),
  exitCode: (c) => Buffer.from(`X:${c}`),
  error: (m) => Buffer.from(`E:${m}`),
  stolenBy: (l) => Buffer.from(`S:${l}`),
  detached: (explicit) => Buffer.from(explicit ? 'D' : 'E:detached'),
};

/** A sink that accepts `budget` frames before it reports being over the pump's byte budget. */
class FakeSink implements AttachSink {
  readonly frames: string[] = [];
  closed = false;
  ended = false;
  /** onWritten callbacks of frames the "kernel" has not taken yet (see flushWrites). */
  private readonly unwritten: Array<(ok: boolean) => void> = [];
  private drainers: Array<() => void> = [];
  private closeListeners: Array<() => void> = [];
  constructor(readonly label: string, public budget = Infinity) {}
  get queuedBytes(): number {
    return this.budget > 0 ? 0 : Number.MAX_SAFE_INTEGER;
  }
  write(frame: Uint8Array, onWritten?: (ok: boolean) => void): void {
    // [4-byte length][body]; a bytes frame's body is [0x0a][varint length][payload] → "B:payload".
    const body = Buffer.from(frame).subarray(4);
    if (body[0] === 0x0a) {
      let at = 1;
      while (body[at] & 0x80) at++;
      this.frames.push(`B:${body.subarray(at + 1).toString()}`);
    } else this.frames.push(body.toString());
    this.budget--;
    if (onWritten) this.unwritten.push(onWritten);
  }
  onceDrained(fn: () => void): void { this.drainers.push(fn); }
  batch(fn: () => void): void { fn(); }
  onClose(l: () => void): void { this.closeListeners.push(l); }
  end(): void { this.ended = true; }
  /** The kernel took every frame queued so far. */
  flushWrites(): void { for (const cb of this.unwritten.splice(0)) cb(true); }
  drain(budget: number): void {
    this.budget = budget;
    this.flushWrites();
    for (const fn of this.drainers.splice(0)) fn();
  }
  close(): void { this.closed = true; for (const l of this.closeListeners) l(); }
}

describe('OutputStream', () => {
  it('streams live bytes, then exactly one terminal frame after the last byte', () => {
    const s = new OutputStream('stdout of test', 1024, codec);
    s.push(Buffer.from('before'));
    const g = s.attach('a');
    expect(g.backlog.toString()).toBe('before');
    const ch = new FakeSink('a');
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
    const ch = new FakeSink('slow', 1);
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
    const ch1 = new FakeSink('one');
    first.attachment.start(ch1);
    expect(() => s.attach('two')).toThrow(/already attached by one/);
    const second = s.attach('two', { steal: true });
    expect(ch1.frames).toEqual(['S:two']);
    ch1.close(); // the evicted socket closing must not clear the stealer's slot
    expect(s.attachedBy).toBe('two');
    const ch2 = new FakeSink('two');
    second.attachment.start(ch2);
    s.push(Buffer.from('x'));
    expect(ch2.frames).toEqual(['B:x']);
    expect(s.detach()).toBe(true);
    expect(ch2.frames).toEqual(['B:x', 'E:detached']);
    expect(s.detach()).toBe(false);
    // A client that reads the explicit detached frame gets it instead of the v1 one.
    const third = s.attach('three');
    third.attachment.explicitDetach = true;
    const ch3 = new FakeSink('three');
    third.attachment.start(ch3);
    expect(s.detach()).toBe(true);
    expect(ch3.frames).toEqual(['D']);
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
    const ch = new FakeSink('a');
    g.attachment.start(ch);
    s.push(Buffer.alloc(200 * 1024, 0x61));
    const sizes = ch.frames.map((f) => f.length - 2);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
  });
});
