// What pipe and PTY attachments share on the client: the attach backlog (a view, not a copy), then
// the stream's frames decoded one by one as an async iterator, and close(). Lives as long as the
// attach connection.
import type { FrameStream } from './stream';

/** The backlog fields both attach responses carry. */
export interface AttachResponseFields {
  backlog: Uint8Array;
  bytesMissed: number;
  backlogTruncated: boolean;
}

export abstract class AttachedStream<F> implements AsyncIterable<F> {
  /** The attach backlog: what this client missed (or the ring / a screen rendering for PTY replay). */
  readonly backlog: Buffer;
  /** Bytes dropped before they could be seen (exact). */
  readonly bytesMissed: number;
  readonly backlogTruncated: boolean;

  protected constructor(response: AttachResponseFields, protected readonly frames: FrameStream) {
    // protobufjs hands bytes out as views of the frame: keep the view, no copy.
    const b = response.backlog;
    this.backlog = Buffer.from(b.buffer, b.byteOffset, b.length);
    this.bytesMissed = Number(response.bytesMissed);
    this.backlogTruncated = response.backlogTruncated;
  }

  /** Decodes one frame body of this stream's kind. */
  protected abstract decode(body: Buffer): F;

  /** Next frame, or null once the daemon closed the stream. */
  async next(): Promise<F | null> {
    const body = await this.frames.next();
    return body ? this.decode(body) : null;
  }

  /**
   * Bounds the frames buffered ahead of the consumer by bytes too (the socket is paused past it):
   * a terminal client keeps few in hand, so what it shows stays close to what the session wrote.
   */
  limitBufferedBytes(bytes: number): void {
    this.frames.setHighWaterBytes(bytes);
  }

  /**
   * Stops sending and lets what was sent (a detach) reach the daemon before the connection goes:
   * resolves once it is handed to the kernel, or after timeoutMs. Then close().
   */
  endSending(timeoutMs = 1000): Promise<void> {
    return this.frames.endSending(timeoutMs);
  }

  /** Closes the connection; the session keeps running and its slot is free for another client. */
  close(): void {
    this.frames.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<F> {
    return {
      next: async () => {
        const f = await this.next();
        return f ? { value: f, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
