// The daemon's lifecycle event bus: subsystems emit, subscribers (SUBSCRIBE_EVENTS streams,
// metrics) listen. Sequence numbers increase by one per event within a daemon run; the last
// HISTORY_EVENTS are kept so a subscriber can catch up from a known seq.
import { randomUUID } from 'node:crypto';

export type EventKind =
  | 'session.spawned'
  | 'session.exited'
  | 'session.attached'
  | 'session.detached'
  | 'session.stolen'
  /** A lossless reader made no progress for its stall timeout: switched to drop-oldest (issue 15.1). */
  | 'session.stalled'
  | 'session.removed'
  /** A session of a daemon that died without shutting down: reported and stopped by the next one. */
  | 'session.lost'
  | 'service.status'
  | 'zombie.reaped'
  | 'events.dropped';

export interface DaemonEventFields {
  sessionId?: string;
  service?: string;
  pid?: number;
  detail?: string;
  exitCode?: number;
  status?: string;
  originator?: string;
}

export interface DaemonEventRecord extends DaemonEventFields {
  seq: number;
  atMs: number;
  kind: EventKind;
}

const HISTORY_EVENTS = 1024;

export class EventBus {
  /** Identifies this daemon run (sequence numbers restart with each run). */
  readonly runId = randomUUID();
  private seq = 0;
  private readonly history: DaemonEventRecord[] = [];
  private readonly listeners = new Set<(event: DaemonEventRecord) => void>();

  /** Records an event and hands it to every listener synchronously. */
  emit(kind: EventKind, fields: DaemonEventFields = {}): DaemonEventRecord {
    const event: DaemonEventRecord = { seq: ++this.seq, atMs: Date.now(), kind, ...fields };
    this.history.push(event);
    if (this.history.length > HISTORY_EVENTS) this.history.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Seq the next event will carry. */
  get nextSeq(): number {
    return this.seq + 1;
  }

  /** Retained events with seq > sinceSeq, oldest first. */
  since(sinceSeq: number): DaemonEventRecord[] {
    return this.history.filter((e) => e.seq > sinceSeq);
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (event: DaemonEventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
