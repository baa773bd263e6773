// OutputStream: one attachable output stream (pipe stdout, pipe stderr or PTY output) = a ByteRing
// with absolute offsets, how far the last v1 client got, at most one attachment, and taps (tees).
// Lives as long as its session is in the session table. Frame encoding is the caller's
// (AttachFrameCodec), so pipe and PTY attachments share one pump (attachment.ts); it never touches
// protobuf or sockets itself. Flow (issue 15.1): while a lossless reader is (ring - slack) behind,
// the child's output is not read (the child blocks on its full pipe or terminal), until the reader
// is back within half a ring; a reader that makes no progress for its stall timeout meanwhile is
// switched to drop-oldest and the child runs on. With no reader the ring drops its oldest bytes.
import { AlreadyAttachedError, InvalidArgumentError } from '../wire/errors';
import { ByteRing } from '../ring/byte-ring';
import { Attachment, type AttachFrameCodec, type AttachmentEnd, type FlowMode, type StreamEnd } from './attachment';
import { TapSet, type StreamTap } from './tap-set';

export type { StreamTap } from './tap-set';
export { Attachment, ATTACH_SOCKET_BUDGET_BYTES, MAX_ATTACH_CHUNK_BYTES } from './attachment';
export type { AttachFrameCodec, AttachmentEnd, FlowMode, StreamEnd } from './attachment';

/** A lossless reader that makes no progress this long while the child is held is cut loose (issue 15: 10 s). */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;
/**
 * Ring bytes kept free past the pause point for what still arrives after the source was paused
 * (one pipe read, capped at this; a PTY's buffered output and its final drain at exit).
 */
export const DEFAULT_FLOW_SLACK_BYTES = 256 * 1024;

/** Largest read by offset in one response (well under the 4 MiB frame limit); read on from its end. */
export const MAX_BACKLOG_READ_BYTES = 2 * 1024 * 1024;

/** The slack a ring of this capacity can afford: at most a quarter of it. */
export function flowSlackFor(capacity: number, wanted = DEFAULT_FLOW_SLACK_BYTES): number {
  return Math.max(1, Math.min(wanted, Math.floor(capacity / 4)));
}

/** What backlog an attach starts with: what the last client missed, or all the ring holds. */
export type ReplayMode = 'missed' | 'ring';

/** What happened to the stream's attachment slot (lifecycle events); stalled = a lossless reader was switched to drop-oldest. */
export type AttachmentChange = 'attached' | 'detached' | 'stolen' | 'stalled';

/** The attach response's numbers, and the attachment to start once the response is out. */
export interface AttachGrant {
  backlog: Buffer;
  bytesMissed: number;
  /** bytes_missed > 0 for this attach. */
  backlogTruncated: boolean;
  /** Absolute offsets of the backlog, [startOffset, endOffset); live frames continue at endOffset. */
  startOffset: number;
  endOffset: number;
  attachment: Attachment;
}

/** How an attach wants to read (AttachPipeStreamRequest / AttachPtySessionRequest). */
export interface AttachRequestOptions {
  steal?: boolean;
  replay?: ReplayMode;
  /** Screen replay: the caller supplies its own backlog, valid up to this offset. */
  startAt?: number;
  /** Resume at this absolute offset: no backlog, every byte from there as frames with offsets. */
  fromOffset?: number;
  flow?: FlowMode;
  /** 0 or absent: the stream's default. */
  stallTimeoutMs?: number;
}

/** A read by offset that consumes nothing (GetSessionBacklog with from_offset). */
export interface OffsetRead {
  bytes: Buffer;
  /** Offset of bytes[0]; > the requested offset when the ring dropped what was asked for. */
  startOffset: number;
  endOffset: number;
  /** Bytes between the requested offset and startOffset that the ring no longer holds. */
  droppedBytes: number;
  /** Bytes the stream produced so far. */
  totalBytes: number;
  /** The stream is closed and endOffset is its last byte. */
  complete: boolean;
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
  /** Ring bytes left free past the pause point (see DEFAULT_FLOW_SLACK_BYTES). */
  readonly slackBytes: number;
  /** Stall timeout for lossless attaches that do not set one (the daemon's --attach-stall-timeout-ms). */
  defaultStallTimeoutMs = DEFAULT_STALL_TIMEOUT_MS;
  private lastSeen = 0;
  private current: Attachment | null = null;
  /** The attachment that last held the slot: its frames the kernel takes after it left still count as seen. */
  private lastHolder: Attachment | null = null;
  /** Flow: set while the source is paused for the current lossless reader. */
  private readonly flowKey = {};
  private flowHeld = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private lastProgressMs = 0;
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
    slackBytes: number = DEFAULT_FLOW_SLACK_BYTES,
  ) {
    this.ring = new ByteRing(ringBytes);
    this.slackBytes = flowSlackFor(ringBytes, slackBytes);
  }

  /** True while the child's output is not read because the attached reader is a ring behind. */
  get heldForReader(): boolean {
    return this.flowHeld;
  }

  /** How the stream ended, or null while it is open. */
  get ended(): StreamEnd | null {
    return this.endInfo;
  }

  /** The client label of the current attachment, or null. */
  get attachedBy(): string | null {
    return this.current?.label ?? null;
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
    const cur = this.current;
    if (cur) {
      cur.pump();
      if (!this.flowHeld && cur.holdsChild && this.ring.writeOffset - cur.position >= this.ring.capacity - this.slackBytes) this.holdForReader();
    }
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
    // Nothing more will be read: a stall timer has nothing left to protect.
    this.clearStallTimer();
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

  /** Up to maxBytes from absolute offset `from` (consumes nothing); INVALID_ARGUMENT past the end. */
  readAt(from: number, maxBytes: number = Number.POSITIVE_INFINITY): OffsetRead {
    this.checkOffset(from, 'from_offset');
    const r = this.ring.readFrom(from, maxBytes);
    const total = this.ring.writeOffset;
    return {
      bytes: r.bytes,
      startOffset: r.nextOffset - r.bytes.length,
      endOffset: r.nextOffset,
      droppedBytes: r.missed,
      totalBytes: total,
      complete: this.endInfo !== null && r.nextOffset === total,
    };
  }

  private checkOffset(offset: number, field: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.ring.writeOffset) {
      throw new InvalidArgumentError(`${field} ${offset} is past the end of ${this.description} (${this.ring.writeOffset} bytes so far)`);
    }
  }

  /**
   * Acquires the stream for a client: ALREADY_ATTACHED unless steal, in which case the current
   * client gets stolen_by. The backlog is counted as seen; call grant.attachment.start() after
   * the response went out.
   */
  attach(label: string, opts: AttachRequestOptions = {}): AttachGrant {
    if (opts.fromOffset !== undefined && opts.startAt === undefined) this.checkOffset(opts.fromOffset, 'from_offset');
    const cur = this.current;
    if (cur) {
      if (!opts.steal) {
        throw new AlreadyAttachedError(`${this.description} is already attached by ${cur.label}; attach with steal to take it over`);
      }
      cur.finish({ kind: 'stolen', by: label });
      this.onAttachmentChange?.('stolen', cur.label, `stolen by ${label}`);
    }
    this.releaseFlow();
    const flow = opts.flow ?? 'lossless';
    const attachOpts = { flow, stallTimeoutMs: opts.stallTimeoutMs || this.defaultStallTimeoutMs, offsets: false };
    let grant: Omit<AttachGrant, 'attachment'>;
    let attachment: Attachment;
    let how: string;
    if (opts.startAt !== undefined) {
      // startAt (PTY screen replay): the caller supplies its own backlog, valid up to that offset;
      // the pump streams the rest live (reporting missed bytes if the ring dropped past it).
      attachment = new Attachment(this, this.codec, label, opts.startAt, attachOpts);
      attachment.backlogSeenWhenWritten(opts.startAt);
      grant = { backlog: Buffer.alloc(0), bytesMissed: 0, backlogTruncated: false, startOffset: opts.startAt, endOffset: opts.startAt };
      how = 'replay screen';
    } else if (opts.fromOffset !== undefined) {
      // Resume at the client's own count: everything from there comes as frames (flow-controlled),
      // a gap the ring dropped first as one missed frame. Marks nothing as seen.
      const start = Math.max(opts.fromOffset, this.ring.startOffset);
      attachment = new Attachment(this, this.codec, label, opts.fromOffset, { ...attachOpts, offsets: true });
      grant = { backlog: Buffer.alloc(0), bytesMissed: start - opts.fromOffset, backlogTruncated: start > opts.fromOffset, startOffset: start, endOffset: start };
      how = `from offset ${opts.fromOffset}`;
    } else {
      const from = opts.replay === 'ring' ? this.ring.startOffset : this.lastSeen;
      const r = this.ring.readFrom(from);
      attachment = new Attachment(this, this.codec, label, r.nextOffset, attachOpts);
      // v1: the backlog counts as seen only once the kernel took the response.
      attachment.backlogSeenWhenWritten(r.nextOffset);
      grant = { backlog: r.bytes, bytesMissed: r.missed, backlogTruncated: r.missed > 0, startOffset: r.nextOffset - r.bytes.length, endOffset: r.nextOffset };
      how = `replay ${opts.replay ?? 'missed'}`;
    }
    this.current = attachment;
    this.lastHolder = attachment;
    // Resuming far back: hold the child before the next read could overwrite what this reader wants.
    if (attachment.holdsChild && this.ring.writeOffset - attachment.position >= this.ring.capacity - this.slackBytes) this.holdForReader();
    this.onAttachmentChange?.('attached', label, flow === 'live' ? `${how}, live` : how);
    if (this.held) {
      this.held = false;
      this.resumeSource(this.holdKey);
    }
    return { ...grant, attachment };
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
    // With no reader the ring drops its oldest bytes again: the child runs on.
    this.releaseFlow();
    // A stolen slot was reported by attach(); eof/exit endings are covered by session.exited.
    if (reason === 'detached' || reason === 'error' || reason === 'client gone') {
      this.onAttachmentChange?.('detached', attachment.label, reason);
    }
  }

  /**
   * The kernel took a v1 attachment's bytes up to offset. Only the last holder of the slot moves
   * the mark (a stolen attachment's late callbacks do not), and it only moves forward.
   */
  noteSeen(attachment: Attachment, offset: number): void {
    if (this.lastHolder === attachment && offset > this.lastSeen) this.lastSeen = offset;
  }

  /** The current attachment's cursor moved: let the child run again once it is within half a ring. */
  noteProgress(attachment: Attachment): void {
    if (this.current !== attachment || !this.flowHeld) return;
    this.lastProgressMs = Date.now();
    if (this.ring.writeOffset - attachment.position <= this.ring.capacity / 2) this.releaseFlow();
  }

  // Stops reading the child for the current lossless reader; its stall timer runs while held.
  private holdForReader(): void {
    this.flowHeld = true;
    this.lastProgressMs = Date.now();
    this.pauseSource(this.flowKey);
    this.armStallTimer();
  }

  private armStallTimer(): void {
    const cur = this.current;
    if (!cur || this.endInfo) return;
    const wait = Math.max(1, this.lastProgressMs + cur.options.stallTimeoutMs - Date.now());
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (this.current !== cur || !this.flowHeld) return;
      if (Date.now() - this.lastProgressMs < cur.options.stallTimeoutMs) {
        this.armStallTimer();
        return;
      }
      // No progress for the whole timeout: this reader no longer holds the child back; the ring
      // drops its oldest bytes and the reader gets exact missed_bytes when it reads again.
      cur.cutLooseAfterStall();
      this.releaseFlow();
      this.onAttachmentChange?.('stalled', cur.label, `no progress for ${cur.options.stallTimeoutMs} ms: switched to drop-oldest`);
    }, wait);
    this.stallTimer.unref();
  }

  private clearStallTimer(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private releaseFlow(): void {
    this.clearStallTimer();
    if (!this.flowHeld) return;
    this.flowHeld = false;
    this.resumeSource(this.flowKey);
  }
}
