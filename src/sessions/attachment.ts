// Attachment: one client's attachment to an OutputStream: a cursor into the stream's ring (its
// unread position: the stream holds the child back while a lossless reader is a ring behind) and
// the sink its frames go to. Writes while the sink is under its byte budget, waits for it to drain
// otherwise, and reports bytes the ring dropped past its cursor as one missed frame. Lives from the
// attach until its terminal frame, a steal, a detach or the client going away.
import { bytesFieldFrameLength, encodeBytesFieldFrame, encodeBytesFieldFrameInto, encodeFrame } from '../wire/frame';
import type { ByteRing } from '../ring/byte-ring';
import type { AttachSink } from './attach-sink';
import { MIN_POOLED_FRAME_BYTES, attachFramePool } from './frame-pool';
import type { OutputWindow } from './output-window';

/** Largest byte payload per frame (the protocol caps frames at 64 KiB); with its header and offset it fits the 64 KiB pooled size class. */
export const MAX_ATTACH_CHUNK_BYTES = 64 * 1024 - 32;
/**
 * Bytes an attachment may leave queued in its sink before waiting for it to drain. Waiting after
 * every 64 KiB frame (the socket's 16 KiB high-water mark) made the pipeline one frame deep and
 * capped delivery at ~100 MiB/s; a bounded budget keeps memory per client fixed instead.
 */
export const ATTACH_SOCKET_BUDGET_BYTES = 1024 * 1024;

/** Encodes the frames one kind of attachment sends (PipeStreamFrame, PtyStreamFrame bodies). */
export interface AttachFrameCodec {
  bytes(buf: Buffer): Uint8Array;
  /** Field number of the bytes/output field: the pump frames chunks itself (one copy, no encode). */
  readonly bytesField: number;
  /** `offset` (the offset the bytes after the gap start at) only for attachments that asked for offsets. */
  missed(n: number, offset?: number): Uint8Array;
  eof(): Uint8Array;
  exitCode(code: number): Uint8Array;
  error(message: string): Uint8Array;
  stolenBy(label: string): Uint8Array;
  /** Terminal frame of a detach: `explicit` for clients that read the detached field, else the v1 frame. */
  detached(explicit: boolean): Uint8Array;
}

/** How the stream itself ended: the terminal frame an attachment gets after the last byte. */
export type StreamEnd =
  | { kind: 'eof' }
  | { kind: 'exit'; code: number }
  | { kind: 'error'; message: string };

/** Why one attachment ended: the stream's end, or a steal, or a detach (closed union). */
export type AttachmentEnd = StreamEnd | { kind: 'stolen'; by: string } | { kind: 'detached' };

/**
 * What the stream does when this reader falls a ring behind: `lossless` holds the child back (and
 * cuts a reader that makes no progress for stallTimeoutMs loose to drop-oldest), `live` never waits.
 */
export type FlowMode = 'lossless' | 'live';

/** How one attachment reads (all from its attach request). */
export interface AttachmentOptions {
  flow: FlowMode;
  /** lossless: no progress this long while the child is held = switched to drop-oldest. */
  stallTimeoutMs: number;
  /** The client set from_offset: frames carry their offset, and reading marks nothing as seen (v1 'missed' stays put). */
  offsets: boolean;
}

/** What an attachment needs of its stream (OutputStream). */
export interface AttachmentHost {
  readonly ring: ByteRing;
  /** How the stream ended, or null while it is open. */
  readonly ended: StreamEnd | null;
  /** Frees the stream's slot if this attachment still holds it. */
  release(attachment: Attachment, reason: AttachmentEnd['kind'] | 'client gone'): void;
  /** The kernel took the bytes before `offset` for this attachment's client (v1 'missed' mark). */
  noteSeen(attachment: Attachment, offset: number): void;
  /** The cursor moved: the stream may let the child run again. */
  noteProgress(attachment: Attachment): void;
}

export class Attachment {
  private sink: AttachSink | null = null;
  private done = false;
  private waitingDrain = false;
  private endReason: AttachmentEnd | null = null;
  /** Set when a lossless reader stalled past its timeout: from then on the ring drops its oldest bytes. */
  private cutLoose = false;
  /** A v1 attach's backlog end: seen once the kernel took what was queued before the first frame. */
  private backlogEnd: number | null = null;
  /** The client reads the explicit detached frame (it said so in its attach request); set before start(). */
  explicitDetach = false;
  /** Output the client may have unacknowledged (a terminal client, issue 18.3), or null; set before start(). */
  window: OutputWindow | null = null;
  private waitingWindow = false;

  constructor(
    private readonly stream: AttachmentHost,
    private readonly codec: AttachFrameCodec,
    readonly label: string,
    private cursor: number,
    readonly options: AttachmentOptions = { flow: 'live', stallTimeoutMs: 0, offsets: false },
  ) {}

  /** Offset of the next byte this attachment will send (its unread position in the ring). */
  get position(): number {
    return this.cursor;
  }

  /** True while the stream must not overwrite what this reader has not been sent. */
  get holdsChild(): boolean {
    return this.options.flow === 'lossless' && !this.cutLoose && !this.done;
  }

  /** True once a stalled lossless reader was switched to drop-oldest. */
  get droppingOldest(): boolean {
    return this.cutLoose;
  }

  /** Switches a stalled lossless reader to drop-oldest (it gets exact missed_bytes when it reads again). */
  cutLooseAfterStall(): void {
    this.cutLoose = true;
  }

  /**
   * For a v1 attach (no from_offset): the response carried the backlog up to `end`; it counts as
   * seen once the kernel took it (before start(): the response is queued ahead of every frame).
   */
  backlogSeenWhenWritten(end: number): void {
    this.backlogEnd = end;
  }

  /** True once the terminal frame was sent or the client went away. */
  get finished(): boolean {
    return this.done;
  }

  /** Starts pumping into the sink; the attach response must already have been written. */
  start(sink: AttachSink): void {
    this.sink = sink;
    // Nothing queued: the kernel has already taken the response. Else the next frame's callback says so.
    if (this.backlogEnd !== null && sink.queuedBytes === 0) {
      this.stream.noteSeen(this, this.backlogEnd);
      this.backlogEnd = null;
    }
    sink.onClose(() => {
      // The client went away (or we ended it): no frame, just free the slot.
      this.done = true;
      this.window?.dispose();
      this.stream.release(this, 'client gone');
    });
    if (this.done) {
      // Stolen or detached between the response and start(): deliver the terminal frame now.
      this.deliverTerminal();
      return;
    }
    this.pump();
  }

  /** Sends what the ring holds past the cursor until the sink is over budget; ends after the last byte. */
  pump(): void {
    const sink = this.sink;
    if (this.done || !sink || sink.closed) return;
    // Called on every write to the stream: the window holds the child while this client lags.
    this.window?.noteLag(this.stream.ring.writeOffset - this.cursor);
    if (this.waitingDrain || this.waitingWindow) return;
    // Batched: the frames of one pump (a 256 KiB read makes four) leave in one writev, so the
    // client is woken once per batch rather than once per frame.
    sink.batch(() => this.pumpFrames(sink, this.stream.ring));
    this.window?.noteLag(this.stream.ring.writeOffset - this.cursor);
  }

  /** The loop of pump(): frames from the cursor on, until caught up or over the sink budget. */
  private pumpFrames(sink: AttachSink, ring: ByteRing): void {
    const offsets = this.options.offsets;
    const window = this.window;
    while (this.cursor < ring.writeOffset) {
      if (window && window.room <= 0) {
        // The client has not shown what it has: wait for its acknowledgement, as for a drain.
        this.waitingWindow = true;
        window.onceOpen(() => {
          this.waitingWindow = false;
          this.pump();
        });
        return;
      }
      const r = ring.viewFrom(this.cursor, window ? Math.min(MAX_ATTACH_CHUNK_BYTES, window.room) : MAX_ATTACH_CHUNK_BYTES);
      const at = r.nextOffset - r.bytes.length;
      if (r.missed > 0) sink.write(encodeFrame(offsets ? this.codec.missed(r.missed, at) : this.codec.missed(r.missed)));
      if (r.bytes.length > 0) this.writeBytesFrame(sink, r.bytes, at);
      window?.noteSent(r.bytes.length);
      this.cursor = r.nextOffset;
      this.stream.noteProgress(this);
      if (sink.queuedBytes >= ATTACH_SOCKET_BUDGET_BYTES) {
        // At most ATTACH_SOCKET_BUDGET_BYTES (+ one frame) wait in the sink; resume once it drained.
        this.waitingDrain = true;
        sink.onceDrained(() => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    const end = this.stream.ended;
    if (end) this.finish(end);
  }

  /**
   * One bytes frame starting at offset `at`: big ones in pooled memory handed back once the sink
   * wrote them. For a v1 attach the bytes count as seen ('missed' mark) only once the kernel took
   * the frame: a client that goes away with frames in flight gets them again on its next attach.
   */
  private writeBytesFrame(sink: AttachSink, bytes: Buffer, at: number): void {
    const field = this.codec.bytesField;
    const offset = this.options.offsets ? at : undefined;
    const length = bytesFieldFrameLength(field, bytes.length, offset);
    const seenUpTo = this.options.offsets ? null : at + bytes.length;
    const backlogEnd = this.backlogEnd;
    this.backlogEnd = null;
    const seen = seenUpTo === null ? null : (ok: boolean) => {
      if (!ok) return;
      if (backlogEnd !== null) this.stream.noteSeen(this, backlogEnd);
      this.stream.noteSeen(this, seenUpTo);
    };
    if (length < MIN_POOLED_FRAME_BYTES) {
      sink.write(encodeBytesFieldFrame(field, bytes, offset), seen ?? undefined);
      return;
    }
    const buf = attachFramePool.take(length);
    sink.write(encodeBytesFieldFrameInto(buf, field, bytes, offset), (ok) => {
      attachFramePool.give(buf);
      seen?.(ok);
    });
  }

  /** Sends exactly one terminal frame, closes the connection and frees the slot. Idempotent. */
  finish(how: AttachmentEnd): void {
    if (this.done) return;
    this.done = true;
    this.window?.dispose();
    this.endReason = how;
    this.stream.release(this, how.kind);
    if (this.sink) this.deliverTerminal();
  }

  private deliverTerminal(): void {
    const sink = this.sink;
    const how = this.endReason;
    if (!sink || !how || sink.closed) return;
    sink.write(encodeFrame(this.terminalFrame(how)));
    sink.end();
  }

  private terminalFrame(how: AttachmentEnd): Uint8Array {
    switch (how.kind) {
      case 'eof': return this.codec.eof();
      case 'exit': return this.codec.exitCode(how.code);
      case 'error': return this.codec.error(how.message);
      case 'stolen': return this.codec.stolenBy(how.by);
      case 'detached': return this.codec.detached(this.explicitDetach);
    }
  }
}
