// OutputStream: one attachable output stream (pipe stdout, pipe stderr or PTY output) = a ByteRing,
// how far the last attached client got, at most one attachment, and taps (tees). Lives as long as
// its session is in the session table. Frame encoding is the caller's (AttachFrameCodec), so pipe
// and PTY attachments share one pump (attachment.ts); it never touches protobuf or sockets itself.
import { AlreadyAttachedError } from '../wire/errors';
import { ByteRing } from '../ring/byte-ring';
import { Attachment, type AttachFrameCodec, type AttachmentEnd, type StreamEnd } from './attachment';
import { TapSet, type StreamTap } from './tap-set';

export type { StreamTap } from './tap-set';
export { Attachment, ATTACH_SOCKET_BUDGET_BYTES, MAX_ATTACH_CHUNK_BYTES } from './attachment';
export type { AttachFrameCodec, AttachmentEnd, StreamEnd } from './attachment';

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
