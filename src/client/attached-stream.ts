// What pipe and PTY attachments share on the client: the attach backlog (a view, not a copy), then
// the stream's frames decoded one by one as an async iterator, and close(). Lives as long as the
// attach connection.
import type { FrameStream } from './stream';

/** The backlog fields both attach responses carry. */
export interface AttachResponseFields {
  backlog: Uint8Array;
  bytesMissed: number;
  backlogTruncated: boolean;
  /** Absolute offsets of the backlog (0 from a daemon too old to say). */
  startOffset?: number;
  endOffset?: number;
}

/** How an attached reader is served when it falls a ring behind (AttachFlowMode). */
export type AttachFlow = 'lossless' | 'live';

/** Offset and flow options both attach calls take (issue 15). */
export interface AttachFlowOptions {
  /**
   * Resume at this absolute output offset (0 = the oldest byte the ring still holds) instead of the
   * v1 backlog (what the last client missed): everything from there arrives as frames with offsets,
   * and nothing is consumed.
   */
  fromOffset?: number;
  /** lossless (default): the child waits for this reader; live: the ring drops what the reader is too slow for. */
  flow?: AttachFlow;
  /** lossless: a reader making no progress this long while the child waits is switched to drop-oldest (0 = daemon default, 10 s). */
  stallTimeoutMs?: number;
}

/** The request fields for AttachFlowOptions (from_offset stays unset when not given). */
export function attachFlowPayload(opts: AttachFlowOptions): { fromOffset?: number; flow: number; stallTimeoutMs: number } {
  return {
    ...(opts.fromOffset !== undefined ? { fromOffset: opts.fromOffset } : {}),
    flow: opts.flow === 'live' ? 1 : 0,
    stallTimeoutMs: opts.stallTimeoutMs ?? 0,
  };
}

export abstract class AttachedStream<F> implements AsyncIterable<F> {
  /** The attach backlog: what this client missed (or the ring / a screen rendering for PTY replay). */
  readonly backlog: Buffer;
  /** Bytes dropped before they could be seen (exact). */
  readonly bytesMissed: number;
  readonly backlogTruncated: boolean;
  /** Absolute offset of backlog[0]. */
  readonly startOffset: number;
  /** Absolute offset after the last byte handed out so far (the backlog's end before any frame). */
  position: number;
  /** Bytes the daemon dropped before this reader got them: bytesMissed plus every missed frame (exact). */
  missedTotal: number;

  protected constructor(response: AttachResponseFields, protected readonly frames: FrameStream) {
    // protobufjs hands bytes out as views of the frame: keep the view, no copy.
    const b = response.backlog;
    this.backlog = Buffer.from(b.buffer, b.byteOffset, b.length);
    this.bytesMissed = Number(response.bytesMissed);
    this.backlogTruncated = response.backlogTruncated;
    this.startOffset = Number(response.startOffset ?? 0);
    this.position = Number(response.endOffset ?? 0);
    this.missedTotal = this.bytesMissed;
  }

  /** Keeps position and missedTotal: call for every data or missed frame (offset when the frame has one). */
  protected track(dataBytes: number, missedBytes: number, offset: number | null | undefined): void {
    if (missedBytes > 0) {
      this.missedTotal += missedBytes;
      this.position = offset ?? this.position + missedBytes;
      return;
    }
    this.position = (offset ?? this.position) + dataBytes;
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
