// The per-daemon budget for bytes held in incomplete frames: every connection reports what its
// decoder holds after each read; while the total is over the budget, connections holding a partial
// frame are not read (they keep what they have; the frame deadline closes those that never
// finish), and they are read again as soon as the total drops. One per daemon, owned by the server.

/** What the budget needs of a connection. */
export interface PartialFrameHolder {
  /** Stops reading the connection until resumeForBudget(). */
  pauseForBudget(): void;
  resumeForBudget(): void;
}

export class PartialFrameBudget {
  private total = 0;
  private readonly held = new Map<PartialFrameHolder, number>();
  private readonly waiting = new Set<PartialFrameHolder>();

  constructor(readonly limitBytes: number) {}

  /** Bytes held in incomplete frames by all connections now. */
  get totalBytes(): number {
    return this.total;
  }

  /** Records what holder holds after a read; pauses it when it holds something and the total is over the budget. */
  update(holder: PartialFrameHolder, bytes: number): void {
    const before = this.held.get(holder) ?? 0;
    if (bytes === before) {
      if (bytes > 0 && this.total > this.limitBytes) this.wait(holder);
      return;
    }
    this.total += bytes - before;
    if (bytes > 0) this.held.set(holder, bytes);
    else this.held.delete(holder);
    if (bytes > 0 && this.total > this.limitBytes) this.wait(holder);
    else if (bytes < before) this.wakeWaiters();
  }

  /** The holder closed: what it held is given back. */
  release(holder: PartialFrameHolder): void {
    this.waiting.delete(holder);
    this.update(holder, 0);
  }

  private wait(holder: PartialFrameHolder): void {
    if (this.waiting.has(holder)) return;
    this.waiting.add(holder);
    holder.pauseForBudget();
  }

  private wakeWaiters(): void {
    if (this.total > this.limitBytes || this.waiting.size === 0) return;
    const waiters = [...this.waiting];
    this.waiting.clear();
    for (const w of waiters) w.resumeForBudget();
  }
}
