// TapSet: the tees listening to one byte stream (an output stream, or a pipe session's stdin).
// Taps are called synchronously, in registration order, for every chunk; lives with its stream.

/** A tee's view of a stream: every chunk in order, then end() once when the stream ends. */
export interface StreamTap {
  /** transient: chunk is a view its owner overwrites after the call (copy what you keep). */
  write(chunk: Buffer, transient?: boolean): void;
  end(): void;
}

export class TapSet {
  private taps: StreamTap[] = [];
  private ended = false;

  get size(): number {
    return this.taps.length;
  }

  /** Adds a tap; a tap added after end() gets end() at once. */
  add(tap: StreamTap): void {
    if (this.ended) {
      tap.end();
      return;
    }
    if (!this.taps.includes(tap)) this.taps = [...this.taps, tap];
  }

  /** Removes a tap by identity (no end() call). */
  remove(tap: StreamTap): void {
    this.taps = this.taps.filter((t) => t !== tap);
  }

  /** Hands one chunk to every tap; a tap that throws is removed so it cannot hurt the session. */
  write(chunk: Buffer, transient = false): void {
    for (const tap of this.taps) {
      try {
        tap.write(chunk, transient);
      } catch {
        this.remove(tap);
      }
    }
  }

  /** Ends every tap once. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const tap of this.taps) {
      try {
        tap.end();
      } catch {
        // A failing tee must not stop the others from ending.
      }
    }
  }

  /** True once end() ran. */
  get isEnded(): boolean {
    return this.ended;
  }
}
