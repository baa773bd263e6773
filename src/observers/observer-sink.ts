// The bounded queue of one observer subscription: events wait here until a receiver takes them.
// Pure (no I/O, no timers); lives as long as its subscription. Counts what it lost: every event
// offered gets a seq, and an event queued after a gap remembers how many were lost just before it,
// so the receiver is told exactly where events went missing.

/** What a subscription does when its queue is full. */
export type ObserverBackpressureMode = 'drop-oldest' | 'block';

/** Queue capacity used when the request says 0 (the reference's default). */
export const DEFAULT_RING_CAPACITY_EVENTS = 1024;
/** Largest ring_capacity_events a request may ask for. */
export const MAX_RING_CAPACITY_EVENTS = 65536;

/** One queued event and the count of events lost just before it (0 = none). */
export interface SinkEntry<E> {
  event: E;
  seq: number;
  missedBefore: number;
}

export interface SinkCounts {
  missed: number;
  delivered: number;
  pending: number;
}

/** A FIFO of events with a fixed capacity, DROP_OLDEST or BLOCK. */
export class ObserverSink<E> {
  private entries: Array<SinkEntry<E> | undefined> = [];
  private head = 0;
  private seq = 0;
  /** Events lost after the last queued one; attached to the next queued event. */
  private pendingMissed = 0;
  private missed = 0;
  private delivered = 0;

  constructor(readonly capacity: number, readonly mode: ObserverBackpressureMode) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** Events waiting. */
  get length(): number {
    return this.entries.length - this.head;
  }

  /** BLOCK: the producer should hold (at or over capacity). */
  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** BLOCK: a held producer may go on (at most half the capacity queued). */
  get lowWater(): boolean {
    return this.length * 2 <= this.capacity;
  }

  /** Events lost just before the next one to be queued (a trailing gap). */
  get trailingMissed(): number {
    return this.pendingMissed;
  }

  counts(): SinkCounts {
    return { missed: this.missed, delivered: this.delivered, pending: this.length };
  }

  /**
   * Offers one event. `accepting` false (no receiver will come for it: disconnected) counts it
   * missed. DROP_OLDEST keeps at most `capacity` events, the oldest giving way; BLOCK queues up to
   * twice the capacity (events a held session still produces) and only then drops the oldest.
   */
  offer(event: E, accepting = true): void {
    const seq = ++this.seq;
    if (!accepting) {
      this.missed++;
      this.pendingMissed++;
      return;
    }
    const limit = this.mode === 'block' ? this.capacity * 2 : this.capacity;
    while (this.length >= limit) this.dropOldest();
    this.entries.push({ event, seq, missedBefore: this.pendingMissed });
    this.pendingMissed = 0;
  }

  /** The oldest queued event, without taking it. */
  peek(): SinkEntry<E> | undefined {
    return this.entries[this.head];
  }

  /** Takes the oldest event; the caller reports it delivered once written (noteDelivered). */
  take(): SinkEntry<E> | undefined {
    if (this.length === 0) return undefined;
    const entry = this.entries[this.head]!;
    this.entries[this.head] = undefined;
    this.head++;
    this.compact();
    return entry;
  }

  /** One taken event reached its receiver. */
  noteDelivered(): void {
    this.delivered++;
  }

  /** The receiver was told about the trailing gap (a missed frame with no event after it). */
  clearTrailingMissed(): void {
    this.pendingMissed = 0;
  }

  private dropOldest(): void {
    const entry = this.take()!;
    this.missed++;
    // The gap (what was missing before it, plus itself) moves onto the next event.
    const gap = entry.missedBefore + 1;
    const next = this.entries[this.head];
    if (next) next.missedBefore += gap;
    else this.pendingMissed += gap;
  }

  /** Keeps the backing array from growing: drop consumed slots once they are half of it. */
  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
