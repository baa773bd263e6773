// OutputWindow: how much output one attachment may have sent that its client has not acknowledged
// as shown (issue 18.3). A terminal client acknowledges what it wrote to its terminal; the attach
// pump sends only while the window has room. Without it the kernel's socket buffers and the
// daemon's socket budget held a megabyte or more of a flood ahead of a ^C's echo (0.2-0.6 s at a
// terminal's speed); with it at most the window is. A full window holds the stream like any slow
// reader (the cursor stops; the ring and the child's flow control take over): it never drops.
// It also holds the child while the attachment is more than a lag limit behind the stream (the
// stream pauses reading its source), so what a ^C finds ahead of its echo is at most the lag limit
// plus the window, not a ring of output. A client that acknowledges nothing for the stall time
// lets go of the child (the ring then drops the oldest, as for any stalled reader).
// Lives as long as its attachment.

/** Smallest and largest window a client may ask for (smaller ones would cap throughput per round trip). */
export const MIN_OUTPUT_WINDOW_BYTES = 16 * 1024;
export const MAX_OUTPUT_WINDOW_BYTES = 16 * 1024 * 1024;
/** How long a held child waits for an acknowledgement before the window lets go of it. */
export const DEFAULT_WINDOW_STALL_MS = 10_000;

/** What holding the child acts on: the stream's ref-counted pause of its source. */
export interface SourceHold {
  pause(): void;
  resume(): void;
  /** Hold while the attachment is more than this many bytes behind the stream. */
  lagLimitBytes: number;
  stallMs?: number;
}

export class OutputWindow {
  private sentBytes = 0;
  private acknowledgedBytes = 0;
  private waiter: (() => void) | null = null;
  private hold: SourceHold | null = null;
  private holding = false;
  /** Set when a stall let go of the child; the next acknowledgement re-arms the hold. */
  private stalled = false;
  private stallTimer: NodeJS.Timeout | null = null;

  /** `bytes` is clamped to [MIN_OUTPUT_WINDOW_BYTES, MAX_OUTPUT_WINDOW_BYTES]. */
  constructor(bytes: number) {
    this.size = Math.min(MAX_OUTPUT_WINDOW_BYTES, Math.max(MIN_OUTPUT_WINDOW_BYTES, Math.floor(bytes)));
  }

  readonly size: number;

  /** Payload bytes that may be sent now. */
  get room(): number {
    return this.size - (this.sentBytes - this.acknowledgedBytes);
  }

  /** Sent and not acknowledged. */
  get outstanding(): number {
    return this.sentBytes - this.acknowledgedBytes;
  }

  /** Counts payload bytes handed to the sink. */
  noteSent(bytes: number): void {
    this.sentBytes += bytes;
  }

  /**
   * The client's running total of consumed bytes. Totals never go back; one beyond what was sent
   * (a confused client) counts as everything sent, so the window never grows past its size.
   */
  acknowledge(total: number): void {
    if (!Number.isFinite(total) || total <= this.acknowledgedBytes) return;
    this.acknowledgedBytes = Math.min(total, this.sentBytes);
    this.stalled = false;
    this.stallTimer?.refresh();
    const w = this.waiter;
    if (w && this.room > 0) {
      this.waiter = null;
      w();
    }
  }

  /** Runs fn once the window has room again (one waiter: the attachment's pump). */
  onceOpen(fn: () => void): void {
    if (this.room > 0) {
      fn();
      return;
    }
    this.waiter = fn;
  }

  /** Holds the stream's source while the attachment lags by more than hold.lagLimitBytes. */
  holdSourceWhileBehind(hold: SourceHold): void {
    this.hold = hold;
  }

  /** The attachment is `lag` bytes behind the stream's end (called as either moves). */
  noteLag(lag: number): void {
    const hold = this.hold;
    if (!hold) return;
    if (!this.holding && !this.stalled && lag > hold.lagLimitBytes) {
      this.holding = true;
      hold.pause();
      this.stallTimer = setTimeout(() => this.onStall(), hold.stallMs ?? DEFAULT_WINDOW_STALL_MS).unref();
    } else if (this.holding && lag <= hold.lagLimitBytes / 2) {
      this.letGo();
    }
  }

  /** Lets go of the child for good (the attachment ended). */
  dispose(): void {
    this.letGo();
    this.hold = null;
    this.waiter = null;
  }

  private onStall(): void {
    this.stalled = true;
    this.letGo();
  }

  private letGo(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (!this.holding) return;
    this.holding = false;
    this.hold?.resume();
  }
}
