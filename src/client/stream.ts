// A streaming attach on its own connection: the attach response, then raw frame bodies
// (PtyStreamFrame / PipeStreamFrame) until the daemon closes. Bounded: when the consumer falls
// behind, the socket is paused so the daemon sees backpressure (and counts missed bytes).
import type { Socket } from 'node:net';
import { encodeFrame } from '../wire/frame';

const HIGH_WATER_FRAMES = 64;
const LOW_WATER_FRAMES = 16;

export class FrameStream implements AsyncIterable<Buffer> {
  private readonly frames: Buffer[] = [];
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void } | null = null;
  private ended = false;
  private error: Error | null = null;
  private paused = false;
  private queuedBytes = 0;
  /** Buffered bytes past which the socket is paused too (setHighWaterBytes); frames alone by default. */
  private highWaterBytes = Infinity;

  constructor(private readonly socket: Socket) {
    socket.on('close', () => this.finish(null));
    socket.on('error', (err) => this.finish(err));
  }

  /** Called by the connection's frame decoder. */
  push(body: Buffer): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: body, done: false });
      return;
    }
    this.frames.push(body);
    this.queuedBytes += body.length;
    if (!this.paused && (this.frames.length >= HIGH_WATER_FRAMES || this.queuedBytes >= this.highWaterBytes)) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Pauses the socket once this many bytes are buffered unread (besides the frame count). */
  setHighWaterBytes(bytes: number): void {
    this.highWaterBytes = bytes;
  }

  /** Sends one frame to the daemon (e.g. a PtyInputFrame). Returns false if the socket is gone. */
  send(body: Uint8Array): boolean {
    if (this.socket.destroyed) return false;
    this.socket.write(encodeFrame(body));
    return true;
  }

  /**
   * Half-closes the connection once what was sent reached the kernel (the daemon reads it all,
   * then sees the end); resolves then, or after timeoutMs. Frames may still arrive meanwhile.
   */
  endSending(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the connection; the iterator ends. */
  close(): void {
    this.socket.destroy();
  }

  /** Resolves with the next frame body, or null at the end. Rejects on a socket error. */
  async next(): Promise<Buffer | null> {
    const r = await this.nextResult();
    return r.done ? null : r.value;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.nextResult(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  private nextResult(): Promise<IteratorResult<Buffer>> {
    const frame = this.frames.shift();
    if (frame) {
      this.queuedBytes -= frame.length;
      if (this.paused && this.frames.length <= LOW_WATER_FRAMES && this.queuedBytes <= this.highWaterBytes / 4) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve({ value: frame, done: false });
    }
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private finish(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (err && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') this.error = err;
    const w = this.waiter;
    this.waiter = null;
    if (!w) return;
    if (this.error) w.reject(this.error);
    else w.resolve({ value: undefined, done: true });
  }
}
