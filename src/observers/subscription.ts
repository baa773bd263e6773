// One observer subscription of one session: its bounded sink, what it observes, whether it holds
// the session (BLOCK) and the receiver streaming it. Lives from REGISTER until UNREGISTER or until
// its session leaves the daemon; a receiver comes and goes (STREAM_SESSION_OBSERVER connections).
import type { StreamChannel } from '../daemon/dispatch';
import { AlreadyAttachedError } from '../wire/errors';
import { ObserverSink, type ObserverBackpressureMode, type SinkEntry } from './observer-sink';

/** Categories this daemon observes (FILE and NETWORK are refused at registration). */
export type ObserverCategory = 'lifecycle' | 'process';

export type ObserverEventKindName = 'exited' | 'attached' | 'detached' | 'stolen' | 'descendant-started' | 'descendant-exited';

/** One observed event, before it is encoded for a receiver. */
export interface ObservedEvent {
  category: ObserverCategory;
  kind: ObserverEventKindName;
  pid: number;
  timestampMs: number;
  exitCode: number;
  stream: string;
  detail: string;
}

/** Why a receiver's stream ended (closed union; one terminal frame each). */
export type ReceiverEnd =
  | { kind: 'session-ended' }
  | { kind: 'unregistered' }
  | { kind: 'error'; message: string }
  | { kind: 'stolen'; by: string };

/** Encodes ObserverStreamFrame bodies (the handler's; this module never touches protobuf). */
export interface ObserverFrameCodec {
  event(entry: SinkEntry<ObservedEvent>): Uint8Array;
  missed(n: number): Uint8Array;
  end(how: ReceiverEnd): Uint8Array;
}

/** Pauses and resumes the reading of the session's output (all its streams), by key. */
export interface SessionHold {
  pause(key: object): void;
  resume(key: object): void;
}

export interface SubscriptionOptions {
  id: string;
  sessionId: string;
  categories: ReadonlySet<ObserverCategory>;
  capacity: number;
  mode: ObserverBackpressureMode;
  hold: SessionHold;
  codec: ObserverFrameCodec;
  /** BLOCK: a full queue nobody takes from for this long cuts the subscription loose (0 = never). */
  stallMs: number;
  /** Told when a stalled BLOCK subscription is cut loose. */
  onCutLoose?: (sub: Subscription) => void;
}

/** What GetSessionObserverStatus reports. */
export interface SubscriptionStatus {
  missedEvents: number;
  deliveredEvents: number;
  pendingEvents: number;
  disconnected: boolean;
  receiving: boolean;
}

export class Subscription {
  readonly id: string;
  readonly sessionId: string;
  readonly categories: ReadonlySet<ObserverCategory>;
  readonly sink: ObserverSink<ObservedEvent>;
  private receiver: Receiver | null = null;
  private disconnectedFlag = false;
  private completeFlag = false;
  private closed = false;
  private holding = false;
  private stallTimer: NodeJS.Timeout | null = null;
  /** This subscription's own pause key: other holders of the session are never released by it. */
  private readonly holdKey = {};

  constructor(private readonly opts: SubscriptionOptions) {
    this.id = opts.id;
    this.sessionId = opts.sessionId;
    this.categories = opts.categories;
    this.sink = new ObserverSink<ObservedEvent>(opts.capacity, opts.mode);
  }

  get disconnected(): boolean {
    return this.disconnectedFlag;
  }

  /** No event can follow (the session exited and, for PROCESS, its descendants too). */
  get complete(): boolean {
    return this.completeFlag;
  }

  status(): SubscriptionStatus {
    const c = this.sink.counts();
    return { missedEvents: c.missed, deliveredEvents: c.delivered, pendingEvents: c.pending, disconnected: this.disconnectedFlag, receiving: this.receiver !== null };
  }

  /** Offers one event of a category it observes. Never throws into the emitter. */
  offer(event: ObservedEvent): void {
    if (this.closed || this.completeFlag || !this.categories.has(event.category)) return;
    this.sink.offer(event, !this.disconnectedFlag);
    if (this.opts.mode === 'block' && this.sink.full && !this.disconnectedFlag) this.holdSession();
    this.receiver?.pump();
  }

  /** The session can produce no more events: a receiver ends with session_ended after the last one. */
  markComplete(): void {
    if (this.completeFlag) return;
    this.completeFlag = true;
    // Nothing more will be produced: holding the session could only stall it.
    this.releaseSession();
    this.receiver?.pump();
  }

  /**
   * Makes a client the receiver: ALREADY_ATTACHED while another one streams, unless steal (the
   * other gets stolen_by). Start the returned receiver once the response went out.
   */
  attachReceiver(label: string, steal: boolean): Receiver {
    const cur = this.receiver;
    if (cur) {
      if (!steal) throw new AlreadyAttachedError(`observer ${this.id} of session ${this.sessionId} is already streamed by ${cur.label}; stream with steal to take it over`);
      cur.finish({ kind: 'stolen', by: label });
    }
    const receiver = new Receiver(this, this.opts.codec, label);
    this.receiver = receiver;
    this.disconnectedFlag = false;
    return receiver;
  }

  /** Unregistered, or its session left the daemon: the receiver gets `how`, the session is let go. */
  close(how: ReceiverEnd): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseSession();
    const r = this.receiver;
    this.receiver = null;
    r?.finish(how);
  }

  /** Called by the receiver: the next frame to send, or null when caught up. */
  nextFrame(): { body: Uint8Array; delivered: boolean } | { end: ReceiverEnd } | null {
    const entry = this.sink.peek();
    if (entry && entry.missedBefore > 0) {
      const n = entry.missedBefore;
      entry.missedBefore = 0;
      return { body: this.opts.codec.missed(n), delivered: false };
    }
    if (entry) {
      this.sink.take();
      this.afterTake();
      return { body: this.opts.codec.event(entry), delivered: true };
    }
    if (!this.completeFlag) return null;
    const trailing = this.sink.trailingMissed;
    if (trailing > 0) {
      this.sink.clearTrailingMissed();
      return { body: this.opts.codec.missed(trailing), delivered: false };
    }
    return { end: { kind: 'session-ended' } };
  }

  /** Called by the receiver when its client went away or its stream ended. */
  receiverGone(receiver: Receiver): void {
    if (this.receiver !== receiver) return;
    this.receiver = null;
    if (this.closed || this.completeFlag) return;
    // Nobody reads it now: events are missed until a receiver streams it again, so holding the
    // session would stall it for nothing.
    this.disconnectedFlag = true;
    this.releaseSession();
  }

  private afterTake(): void {
    if (!this.holding) return;
    if (this.sink.lowWater) this.releaseSession();
    else this.stallTimer?.refresh();
  }

  private holdSession(): void {
    if (this.holding) return;
    this.holding = true;
    this.opts.hold.pause(this.holdKey);
    if (this.opts.stallMs > 0) {
      this.stallTimer = setTimeout(() => this.cutLoose(), this.opts.stallMs);
      this.stallTimer.unref();
    }
  }

  private releaseSession(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (!this.holding) return;
    this.holding = false;
    this.opts.hold.resume(this.holdKey);
  }

  // The BLOCK queue stayed full with nobody taking from it: let the session go on. What is
  // queued stays for a later receiver; what arrives meanwhile is missed (counted).
  private cutLoose(): void {
    this.stallTimer = null;
    if (!this.holding) return;
    this.disconnectedFlag = true;
    this.releaseSession();
    const r = this.receiver;
    this.receiver = null;
    r?.finish({ kind: 'error', message: `the receiver took no event for ${this.opts.stallMs} ms while the BLOCK queue was full: subscription cut loose (missed events are counted)` });
    this.opts.onCutLoose?.(this);
  }
}

/** One client streaming a subscription: writes while its socket takes frames, waits for drain. */
export class Receiver {
  private channel: StreamChannel | null = null;
  private done = false;
  private waitingDrain = false;
  private endReason: ReceiverEnd | null = null;

  constructor(private readonly sub: Subscription, private readonly codec: ObserverFrameCodec, readonly label: string) {}

  /** Starts on the channel once the response went out. */
  start(channel: StreamChannel): void {
    this.channel = channel;
    channel.onInput(() => {}); // receivers send nothing; stray frames are ignored
    channel.onClose(() => {
      this.done = true;
      this.sub.receiverGone(this);
    });
    if (this.done) {
      this.deliverTerminal();
      return;
    }
    this.pump();
  }

  /** Sends what the subscription has queued until the socket pushes back or it ends. */
  pump(): void {
    const ch = this.channel;
    if (this.done || !ch || this.waitingDrain || ch.closed) return;
    for (;;) {
      const next = this.sub.nextFrame();
      if (!next) return;
      if ('end' in next) {
        this.finish(next.end);
        return;
      }
      const ok = ch.writeFrame(next.body);
      if (next.delivered) this.sub.sink.noteDelivered();
      if (!ok) {
        this.waitingDrain = true;
        ch.socket.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  /** Sends exactly one terminal frame and closes the connection. Idempotent. */
  finish(how: ReceiverEnd): void {
    if (this.done) return;
    this.done = true;
    this.endReason = how;
    this.sub.receiverGone(this);
    if (this.channel) this.deliverTerminal();
  }

  private deliverTerminal(): void {
    const ch = this.channel;
    if (!ch || !this.endReason || ch.closed) return;
    ch.writeFrame(this.codec.end(this.endReason));
    ch.end();
  }
}
