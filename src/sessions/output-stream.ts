// OutputStream: one attachable output stream (pipe stdout, pipe stderr or PTY output) = a ByteRing,
// how far the last attached client got, at most one attachment, and taps (tees). Lives as long as
// its session is in the session table. Frame encoding is the caller's (AttachFrameCodec), so pipe
// and PTY attachments share this pump; it never touches protobuf itself.
import { bytesFieldFrameLength, encodeBytesFieldFrame, encodeBytesFieldFrameInto } from '../wire/frame';
import { MIN_POOLED_FRAME_BYTES, attachFramePool } from './frame-pool';
import type { StreamChannel } from '../daemon/dispatch';
import { AlreadyAttachedError } from '../wire/errors';
import { ByteRing } from '../ring/byte-ring';
import { TapSet, type StreamTap } from './tap-set';

export type { StreamTap } from './tap-set';

/** Largest byte payload per frame (the protocol caps frames at 64 KiB); with its header it fits the 64 KiB pooled size class. */
export const MAX_ATTACH_CHUNK_BYTES = 64 * 1024 - 16;
/**
 * Bytes an attachment may leave queued in its socket before waiting for 'drain'. Waiting after
 * every 64 KiB frame (the socket's 16 KiB high-water mark) made the pipeline one frame deep and
 * capped delivery at ~100 MiB/s; a bounded budget keeps memory per client fixed instead.
 */
export const ATTACH_SOCKET_BUDGET_BYTES = 1024 * 1024;

/** Encodes the frames one kind of attachment sends (PipeStreamFrame, PtyStreamFrame bodies). */
export interface AttachFrameCodec {
  bytes(buf: Buffer): Uint8Array;
  /** Field number of the bytes/output field: the pump frames chunks itself (one copy, no encode). */
  readonly bytesField: number;
  missed(n: number): Uint8Array;
  eof(): Uint8Array;
  exitCode(code: number): Uint8Array;
  error(message: string): Uint8Array;
  stolenBy(label: string): Uint8Array;
}

/** How the stream itself ended: the terminal frame an attachment gets after the last byte. */
export type StreamEnd =
  | { kind: 'eof' }
  | { kind: 'exit'; code: number }
  | { kind: 'error'; message: string };

/** Why one attachment ended: the stream's end, or a steal, or a detach (closed union). */
export type AttachmentEnd = StreamEnd | { kind: 'stolen'; by: string } | { kind: 'detached' };

/** What backlog an attach starts with: what the last client missed, or all the ring holds. */
export type ReplayMode = 'missed' | 'ring';

/** What happened to the stream's attachment slot (lifecycle events). */
export type AttachmentChange = 'attached' | 'detached' | 'stolen';

/** The attach response's numbers, and the attachment to start once the response is out. */
export interface AttachGrant {
  backlog: Buffer;
  bytesMissed: number;
  /** bytes_missed > 0 for this attach. */
  backlogTruncated: boolean;
  attachment: Attachment;
}

/** Pauses and resumes the reading that feeds a stream (child stdout.pause(), pty.pause()). */
export interface StreamSource {
  pause(): void;
  resume(): void;
}

/** A backlog read that consumes nothing. */
export interface BacklogSnapshot {
  backlog: Buffer;
  bytesMissed: number;
}

export class OutputStream {
  readonly ring: ByteRing;
  private lastSeen = 0;
  private current: Attachment | null = null;
  private readonly taps = new TapSet();
  private readonly pauseKeys = new Set<object>();
  private source: StreamSource | null = null;
  private endInfo: StreamEnd | null = null;
  /** Set by holdUntilAttached(): the source stays paused until the first attach. */
  private held = false;
  private readonly holdKey = {};
  /** Told when a client attaches, detaches (or goes away) or is stolen from; set by the session table. */
  onAttachmentChange: ((change: AttachmentChange, label: string, detail: string) => void) | null = null;

  constructor(
    /** e.g. "stdout of session <id>", used in error messages. */
    readonly description: string,
    ringBytes: number,
    private readonly codec: AttachFrameCodec,
  ) {
    this.ring = new ByteRing(ringBytes);
  }

  /** How the stream ended, or null while it is open. */
  get ended(): StreamEnd | null {
    return this.endInfo;
  }

  /** The client label of the current attachment, or null. */
  get attachedBy(): string | null {
    return this.current?.label ?? null;
  }

  /** Offset up to which the last attached client has been sent bytes. */
  get lastSeenOffset(): number {
    return this.lastSeen;
  }

  /**
   * Called by the session for every chunk the child produced: ring first, then taps, then the pump.
   * `transient`: the chunk's memory is reused after this call (a shared read buffer), so the taps,
   * which may queue it, get their own copy.
   */
  push(chunk: Buffer, transient = false): void {
    if (chunk.length === 0) return;
    this.ring.write(chunk);
    // A transient chunk is copied by each tee that keeps it (from a pool: see tee/copy-pool.ts).
    if (this.taps.size > 0) this.taps.write(chunk, transient);
    this.current?.pump();
  }

  /**
   * Marks the stream finished. Attachments get the terminal frame after their last byte. Called again
   * (e.g. eof, then the exit code) it only changes what later attaches end with.
   */
  end(how: StreamEnd): void {
    const first = this.endInfo === null;
    this.endInfo = how;
    if (first) this.taps.end();
    this.current?.pump();
  }

  /** Adds a tee: write() runs synchronously for each chunk after the ring got it, end() at the end. */
  addTap(tap: StreamTap): void {
    this.taps.add(tap);
  }

  /** Removes a tee (no end() call). */
  removeTap(tap: StreamTap): void {
    this.taps.remove(tap);
  }

  /** Installs what pauseSource/resumeSource act on (set by the session once the child exists). */
  setSource(source: StreamSource): void {
    this.source = source;
    if (this.pauseKeys.size > 0) source.pause();
  }

  /** Ref-counted by key: while any key holds it, the underlying reading is paused (BLOCK tees). */
  pauseSource(key: object): void {
    const was = this.pauseKeys.size;
    this.pauseKeys.add(key);
    if (was === 0 && this.pauseKeys.size === 1) this.source?.pause();
  }

  /** Releases one key's pause; reading resumes once no key holds it. */
  resumeSource(key: object): void {
    if (!this.pauseKeys.delete(key)) return;
    if (this.pauseKeys.size === 0) this.source?.resume();
  }

  /** Keeps the source paused until a client first attaches (nothing dropped before a reader exists). */
  holdUntilAttached(): void {
    if (this.held || this.endInfo) return;
    this.held = true;
    this.pauseSource(this.holdKey);
  }

  /** The backlog an attach would get now, without consuming anything (GetSessionBacklog). */
  peekBacklog(mode: ReplayMode = 'missed'): BacklogSnapshot {
    const from = mode === 'ring' ? this.ring.startOffset : this.lastSeen;
    const r = this.ring.readFrom(from);
    return { backlog: r.bytes, bytesMissed: r.missed };
  }

  /**
   * Acquires the stream for a client: ALREADY_ATTACHED unless steal, in which case the current
   * client gets stolen_by. The backlog is counted as seen; call grant.attachment.start() after
   * the response went out.
   */
  attach(label: string, opts: { steal?: boolean; replay?: ReplayMode; startAt?: number } = {}): AttachGrant {
    const cur = this.current;
    if (cur) {
      if (!opts.steal) {
        throw new AlreadyAttachedError(`${this.description} is already attached by ${cur.label}; attach with steal to take it over`);
      }
      cur.finish({ kind: 'stolen', by: label });
      this.onAttachmentChange?.('stolen', cur.label, `stolen by ${label}`);
    }
    // startAt (PTY screen replay): the caller supplies its own backlog, valid up to that offset;
    // the pump streams the rest live (reporting missed bytes if the ring dropped past it).
    const snap = opts.startAt !== undefined ? { backlog: Buffer.alloc(0), bytesMissed: 0 } : this.peekBacklog(opts.replay ?? 'missed');
    const attachment = new Attachment(this, this.codec, label, opts.startAt ?? this.ring.writeOffset);
    this.current = attachment;
    this.lastSeen = opts.startAt ?? this.ring.writeOffset;
    // startAt is a screen replay's: its backlog is the rendering the caller made.
    this.onAttachmentChange?.('attached', label, `replay ${opts.startAt !== undefined ? 'screen' : opts.replay ?? 'missed'}`);
    if (this.held) {
      this.held = false;
      this.resumeSource(this.holdKey);
    }
    return { backlog: snap.backlog, bytesMissed: snap.bytesMissed, backlogTruncated: snap.bytesMissed > 0, attachment };
  }

  /** Ends the current attachment with `error: "detached"`; false when nobody was attached. */
  detach(): boolean {
    const cur = this.current;
    if (!cur) return false;
    cur.finish({ kind: 'detached' });
    return true;
  }

  /** Ends the current attachment with an error frame (session dropped, daemon shutting down). */
  abortAttachment(message: string): void {
    this.current?.finish({ kind: 'error', message });
  }

  /** Release by identity: a stale attachment never clears its stealer's slot. */
  release(attachment: Attachment, reason: AttachmentEnd['kind'] | 'client gone'): void {
    if (this.current !== attachment) return;
    this.current = null;
    // A stolen slot was reported by attach(); eof/exit endings are covered by session.exited.
    if (reason === 'detached' || reason === 'error' || reason === 'client gone') {
      this.onAttachmentChange?.('detached', attachment.label, reason);
    }
  }

  /** Records progress of the current attachment (stale ones do not move the mark). */
  noteSeen(attachment: Attachment, offset: number): void {
    if (this.current === attachment) this.lastSeen = offset;
  }
}

/**
 * One client's attachment: a cursor into the ring and a channel. Writes while the socket accepts,
 * waits for 'drain' otherwise, and reports bytes the ring dropped past its cursor as one missed frame.
 */
export class Attachment {
  private channel: StreamChannel | null = null;
  private done = false;
  private waitingDrain = false;

  constructor(
    private readonly stream: OutputStream,
    private readonly codec: AttachFrameCodec,
    readonly label: string,
    private cursor: number,
  ) {}

  /** True once the terminal frame was sent or the client went away. */
  get finished(): boolean {
    return this.done;
  }

  /** Starts pumping on the channel; the attach response must already have been written. */
  start(channel: StreamChannel): void {
    this.channel = channel;
    channel.onClose(() => {
      // The client went away (or we ended it): no frame, just free the slot.
      this.done = true;
      this.stream.release(this, 'client gone');
    });
    if (this.done) {
      // Stolen or detached between the response and start(): deliver the terminal frame now.
      this.deliverTerminal();
      return;
    }
    this.pump();
  }

  /** Sends what the ring holds past the cursor until the socket pushes back; ends after the last byte. */
  pump(): void {
    const ch = this.channel;
    if (this.done || !ch || this.waitingDrain) return;
    if (ch.closed || ch.socket.destroyed) return;
    const ring = this.stream.ring;
    // Corked: the frames of one pump (a 256 KiB read makes four) leave in one writev, so the
    // client is woken once per batch rather than once per frame.
    const socket = ch.socket;
    socket.cork();
    try {
      this.pumpFrames(ch, ring);
    } finally {
      socket.uncork();
    }
  }

  /** The loop of pump(): frames from the cursor on, until caught up or over the socket budget. */
  private pumpFrames(ch: StreamChannel, ring: ByteRing): void {
    while (this.cursor < ring.writeOffset) {
      const r = ring.viewFrom(this.cursor, MAX_ATTACH_CHUNK_BYTES);
      let ok = true;
      if (r.missed > 0) ok = ch.writeFrame(this.codec.missed(r.missed));
      if (r.bytes.length > 0) ok = this.writeBytesFrame(ch, r.bytes) && ok;
      this.cursor = r.nextOffset;
      this.stream.noteSeen(this, this.cursor);
      if (!ok && ch.socket.writableLength >= ATTACH_SOCKET_BUDGET_BYTES) {
        // At most ATTACH_SOCKET_BUDGET_BYTES (+ one frame) wait in the socket; resume on drain.
        this.waitingDrain = true;
        ch.socket.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    const end = this.stream.ended;
    if (end) this.finish(end);
  }

  /** One bytes frame: big ones in pooled memory handed back once the socket wrote them. */
  private writeBytesFrame(ch: StreamChannel, bytes: Buffer): boolean {
    const length = bytesFieldFrameLength(this.codec.bytesField, bytes.length);
    if (length < MIN_POOLED_FRAME_BYTES) return ch.writeEncodedFrame(encodeBytesFieldFrame(this.codec.bytesField, bytes));
    const buf = attachFramePool.take(length);
    return ch.writeEncodedFrame(encodeBytesFieldFrameInto(buf, this.codec.bytesField, bytes), () => attachFramePool.give(buf));
  }

  /** Sends exactly one terminal frame, closes the connection and frees the slot. Idempotent. */
  finish(how: AttachmentEnd): void {
    if (this.done) return;
    this.done = true;
    this.endReason = how;
    this.stream.release(this, how.kind);
    if (this.channel) this.deliverTerminal();
  }

  private endReason: AttachmentEnd | null = null;

  private deliverTerminal(): void {
    const ch = this.channel;
    const how = this.endReason;
    if (!ch || !how || ch.closed) return;
    ch.writeFrame(this.terminalFrame(how));
    ch.end();
  }

  private terminalFrame(how: AttachmentEnd): Uint8Array {
    switch (how.kind) {
      case 'eof': return this.codec.eof();
      case 'exit': return this.codec.exitCode(how.code);
      case 'error': return this.codec.error(how.message);
      case 'stolen': return this.codec.stolenBy(how.by);
      case 'detached': return this.codec.error('detached');
    }
  }
}
