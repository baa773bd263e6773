// The daemon's observer subscriptions, per session (they live on the session, not on a client
// connection). Fed by the daemon's event bus (attach changes, exit, removal) and by the descendant
// watcher (PROCESS); a session's subscriptions go when the session leaves the daemon.
import { randomUUID } from 'node:crypto';
import type { DaemonEventRecord, EventBus } from '../events/event-bus';
import type { Logger } from '../daemon/log';
import type { Session } from '../sessions/session-table';
import { ResourceExhaustedError } from '../wire/errors';
import { DescendantWatcher, type DescendantChange } from './descendant-watch';
import type { ObserverBackpressureMode } from './observer-sink';
import { Subscription, type ObservedEvent, type ObserverCategory, type ObserverFrameCodec, type ObserverEventKindName, type ReceiverEnd } from './subscription';

/** Subscriptions one session may have at once. */
export const MAX_OBSERVERS_PER_SESSION = 16;
/** Queue capacity (events) all subscriptions of the daemon may reserve together: memory stays bounded. */
export const MAX_TOTAL_CAPACITY_EVENTS = 131_072;

export interface SessionObserversOptions {
  events: EventBus;
  log: Logger;
  codec: ObserverFrameCodec;
  /** --observer-stall-ms: a full BLOCK queue nobody takes from is cut loose after this (0 = never). */
  stallMs: number;
  /** --observer-poll-ms: how often PROCESS subscriptions' descendants are looked for. */
  pollMs: number;
}

export interface RegisterOptions {
  categories: ReadonlySet<ObserverCategory>;
  capacity: number;
  mode: ObserverBackpressureMode;
}

/** The subscriptions of one session and what is known of its end. */
interface SessionEntry {
  session: Session;
  subs: Map<string, Subscription>;
  /** The session's process has exited (its EXITED event went out). */
  exited: boolean;
  /** No descendant is left (true until PROCESS watching starts; then set by the watcher). */
  descendantsGone: boolean;
  watching: boolean;
}

const BUS_KINDS: Partial<Record<DaemonEventRecord['kind'], ObserverEventKindName>> = {
  'session.attached': 'attached',
  'session.detached': 'detached',
  'session.stolen': 'stolen',
  'session.exited': 'exited',
};

export class SessionObservers {
  private readonly bySession = new Map<string, SessionEntry>();
  private readonly watcher: DescendantWatcher;
  private reservedCapacity = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: SessionObserversOptions) {
    this.watcher = new DescendantWatcher(opts.pollMs);
    this.unsubscribe = opts.events.subscribe((e) => this.onBusEvent(e));
  }

  /** Registers a subscription on the session; returns it (its id is a fresh UUID, never reused). */
  register(session: Session, reg: RegisterOptions): Subscription {
    const entry = this.entryFor(session);
    if (entry.subs.size >= MAX_OBSERVERS_PER_SESSION) {
      throw new ResourceExhaustedError(`session ${session.id} already has ${MAX_OBSERVERS_PER_SESSION} observers (the most one session may have): unregister one first`);
    }
    if (this.reservedCapacity + reg.capacity > MAX_TOTAL_CAPACITY_EVENTS) {
      throw new ResourceExhaustedError(`observer queues of this daemon would hold more than ${MAX_TOTAL_CAPACITY_EVENTS} events ` +
        `(${this.reservedCapacity} reserved, ${reg.capacity} asked): ask for a smaller ring_capacity_events or unregister observers`);
    }
    const sub = new Subscription({
      id: randomUUID(),
      sessionId: session.id,
      categories: reg.categories,
      capacity: reg.capacity,
      mode: reg.mode,
      hold: holdOf(session),
      codec: this.opts.codec,
      stallMs: this.opts.stallMs,
      onCutLoose: (s) => this.opts.log.warn(`observer ${s.id} of session ${s.sessionId}: BLOCK queue full for ${this.opts.stallMs} ms with no receiver taking events; cut loose`),
    });
    entry.subs.set(sub.id, sub);
    this.reservedCapacity += reg.capacity;
    if (reg.categories.has('process')) this.watchDescendants(entry);
    this.completeIfEnded(entry, sub);
    return sub;
  }

  /** The subscription, or undefined. */
  get(session: Session, id: string): Subscription | undefined {
    return this.bySession.get(session.id)?.subs.get(id);
  }

  /** Removes a subscription (its receiver gets `unregistered`); false when it does not exist. */
  unregister(session: Session, id: string): boolean {
    const entry = this.bySession.get(session.id);
    const sub = entry?.subs.get(id);
    if (!entry || !sub) return false;
    this.drop(entry, sub, { kind: 'unregistered' });
    return true;
  }

  /** Subscriptions of the daemon now. */
  get count(): number {
    let n = 0;
    for (const e of this.bySession.values()) n += e.subs.size;
    return n;
  }

  /** Daemon shutdown: every receiver gets an error frame; nothing is held any more. */
  close(): void {
    this.unsubscribe();
    this.watcher.stop();
    for (const entry of [...this.bySession.values()]) {
      for (const sub of [...entry.subs.values()]) this.drop(entry, sub, { kind: 'error', message: 'the daemon is shutting down' });
    }
  }

  private entryFor(session: Session): SessionEntry {
    let entry = this.bySession.get(session.id);
    if (!entry) {
      entry = { session, subs: new Map(), exited: session.exit !== null, descendantsGone: true, watching: false };
      this.bySession.set(session.id, entry);
    }
    return entry;
  }

  private drop(entry: SessionEntry, sub: Subscription, how: ReceiverEnd): void {
    if (entry.subs.get(sub.id) !== sub) return;
    entry.subs.delete(sub.id);
    this.reservedCapacity -= sub.sink.capacity;
    sub.close(how);
    if (entry.subs.size === 0) this.forget(entry);
    else if (entry.watching && ![...entry.subs.values()].some((s) => s.categories.has('process'))) {
      this.watcher.unwatch(entry.session.id);
      entry.watching = false;
      entry.descendantsGone = true;
    }
  }

  private forget(entry: SessionEntry): void {
    if (entry.watching) this.watcher.unwatch(entry.session.id);
    this.bySession.delete(entry.session.id);
  }

  private watchDescendants(entry: SessionEntry): void {
    if (entry.watching) return;
    entry.watching = true;
    entry.descendantsGone = false;
    const session = entry.session;
    this.watcher.watch(session.id, { pid: session.pid, createdAtMs: session.createdAtMs },
      (changes) => this.onDescendants(entry, changes),
      () => {
        entry.watching = false;
        entry.descendantsGone = true;
        for (const sub of entry.subs.values()) this.completeIfEnded(entry, sub);
      });
  }

  private onDescendants(entry: SessionEntry, changes: DescendantChange[]): void {
    const now = Date.now();
    for (const c of changes) {
      const event: ObservedEvent = { category: 'process', kind: c.kind, pid: c.pid, timestampMs: now, exitCode: 0, stream: '', detail: c.comm };
      for (const sub of [...entry.subs.values()]) sub.offer(event);
    }
  }

  private onBusEvent(e: DaemonEventRecord): void {
    if (!e.sessionId) return;
    const entry = this.bySession.get(e.sessionId);
    if (!entry) return;
    if (e.kind === 'session.removed') {
      for (const sub of [...entry.subs.values()]) this.drop(entry, sub, { kind: 'error', message: `session ${e.sessionId} left the daemon (${e.detail ?? 'removed'})` });
      return;
    }
    const kind = BUS_KINDS[e.kind];
    if (!kind) return;
    const exited = kind === 'exited';
    const event: ObservedEvent = {
      category: 'lifecycle',
      kind,
      pid: e.pid ?? entry.session.pid,
      timestampMs: e.atMs,
      exitCode: exited ? e.exitCode ?? 0 : 0,
      stream: exited ? '' : e.status ?? '',
      detail: exited ? (e.detail || e.status || '') : e.detail ?? '',
    };
    for (const sub of [...entry.subs.values()]) sub.offer(event);
    if (exited) {
      entry.exited = true;
      for (const sub of entry.subs.values()) this.completeIfEnded(entry, sub);
    }
  }

  /** Marks a subscription complete once nothing it observes can happen any more. */
  private completeIfEnded(entry: SessionEntry, sub: Subscription): void {
    if (!entry.exited) return;
    if (sub.categories.has('process') && !entry.descendantsGone) return;
    sub.markComplete();
  }
}

/** BLOCK holds every output stream of the session (PTY output, pipe stdout and stderr). */
function holdOf(session: Session) {
  return {
    pause: (key: object) => { for (const s of session.streams.values()) s.pauseSource(key); },
    resume: (key: object) => { for (const s of session.streams.values()) s.resumeSource(key); },
  };
}
