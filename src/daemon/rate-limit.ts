// Per-connection token bucket. Lives as long as its connection; refilled lazily on each take.

/** Allows `perSecond` sustained requests with a burst of one second's worth. */
export class TokenBucket {
  private tokens: number;
  private lastRefillMs: number;

  constructor(private readonly perSecond: number, now = performance.now()) {
    this.tokens = perSecond;
    this.lastRefillMs = now;
  }

  /** Takes one token; false when the connection is over its rate. */
  take(now = performance.now()): boolean {
    const elapsed = now - this.lastRefillMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
      this.lastRefillMs = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
