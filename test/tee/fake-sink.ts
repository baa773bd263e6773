// A TeeSink for unit tests: records bytes, can hold writes until released, and can fail.
import type { TeeSink } from '../../src/tee/file-sink';

export class FakeSink implements TeeSink {
  readonly parts: Buffer[] = [];
  writes = 0;
  closed = false;
  /** When set, writes wait until release() is called. */
  holding = false;
  /** When set, the next write rejects with this error code. */
  failWith: string | null = null;
  private held: Array<() => void> = [];

  get bytes(): Buffer { return Buffer.concat(this.parts); }

  async write(buffers: Buffer[]): Promise<void> {
    this.writes++;
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failWith) {
      const code = this.failWith;
      throw Object.assign(new Error(`${code}: injected failure, write`), { code });
    }
    for (const b of buffers) this.parts.push(Buffer.from(b));
  }

  /** Lets every held write proceed (and stops holding new ones unless hold is true). */
  release(hold = false): void {
    this.holding = hold;
    const held = this.held;
    this.held = [];
    for (const r of held) r();
  }

  get pendingWrites(): number { return this.held.length; }

  async close(): Promise<void> { this.closed = true; }
}
