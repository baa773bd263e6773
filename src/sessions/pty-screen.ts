// The current screen of a PTY session, kept by a headless xterm.js emulator so a re-attaching client
// can be shown the screen as it is (vim, htop, less), like tmux does. Lives as long as its session.
// Output is queued cheaply (bounded) and parsed only when the session is quiet or on a snapshot:
// parsing runs at 3-36 MiB/s against a PTY's 75-150 MiB/s, so parsing inline would cap throughput.
import type { Terminal } from '@xterm/headless';
import { renderScreen } from './screen-render';
import { hookUntrackedModes, type HookedModes } from './screen-state';

export interface PtyScreenOptions {
  rows: number;
  cols: number;
  /** Unparsed output kept at most; older queued output is skipped (default 1 MiB, the ring size). */
  maxPendingBytes?: number;
  /** Parse queued output once no output came for this long (default 50 ms). */
  idleMs?: number;
}

/** A rendering of the screen and the output offset it reflects (stream live output from there). */
export interface ScreenSnapshot {
  /** ANSI bytes that clear a terminal and redraw the screen, modes and cursor. */
  bytes: Buffer;
  /** Total output bytes fed before this snapshot; the snapshot reflects exactly these. */
  offset: number;
}

type Pending = { kind: 'bytes'; data: Buffer } | { kind: 'resize'; rows: number; cols: number };

const PARSE_SLICE_BYTES = 64 * 1024;
const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;
const DEFAULT_IDLE_MS = 50;
/** Small chunks are copied into shared blocks of this size so the queue holds few items. */
const TAIL_BLOCK_BYTES = 16 * 1024;
const TAIL_MAX_CHUNK_BYTES = 1024;

export class PtyScreen {
  /** Output bytes fed so far (the session's output offset). */
  fedBytes = 0;
  /** Output bytes parsed or skipped so far. */
  private doneBytes = 0;
  /** Output bytes skipped because the queue overflowed (diagnostics). */
  skippedBytes = 0;
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  // The last queued item while small chunks are being gathered into it (a program printing a byte at
  // a time would otherwise queue a million Buffers per MiB); closed once it leaves the queue.
  private tail: { item: { kind: 'bytes'; data: Buffer }; block: Buffer; used: number } | null = null;
  // Created on first parse (after 50 ms of quiet, or at a snapshot): building one costs 0.6-2.5 ms,
  // too much for the spawn path of a short-lived session.
  private emulator: { term: Terminal; hooked: HookedModes } | null = null;
  private readonly rows: number;
  private readonly cols: number;
  private readonly maxPendingBytes: number;
  /** A block is a small part of the queue, so skipping the oldest item never drops much at once. */
  private readonly tailBlockBytes: number;
  private readonly idleMs: number;
  private lastFeedAt = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(opts: PtyScreenOptions) {
    this.rows = opts.rows;
    this.cols = opts.cols;
    this.maxPendingBytes = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.tailBlockBytes = Math.min(TAIL_BLOCK_BYTES, Math.max(64, this.maxPendingBytes >> 2));
  }

  /** Queues output (called for every PTY chunk: O(1), no parsing here). */
  feed(chunk: Buffer): void {
    if (this.disposed || chunk.length === 0) return;
    this.enqueue(chunk);
    this.pendingBytes += chunk.length;
    this.fedBytes += chunk.length;
    this.lastFeedAt = Date.now();
    while (this.pendingBytes > this.maxPendingBytes) this.skipOldest();
    this.armIdle();
  }

  /** Records a resize in output order (the emulator reflows when it gets there). */
  resize(rows: number, cols: number): void {
    if (this.disposed) return;
    this.tail = null;
    this.pending.push({ kind: 'resize', rows, cols });
    this.armIdle();
  }

  /** Output bytes queued and not yet parsed. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Items in the queue (bounded by bytes / 16 KiB plus large chunks, however small the writes). */
  get queuedItems(): number {
    return this.pending.length;
  }

  /** Parses everything fed so far and renders it; output fed meanwhile stays queued. */
  snapshot(): Promise<ScreenSnapshot> {
    const target = this.fedBytes;
    // Later output must start a new item: the snapshot parses whole items up to `target`.
    this.tail = null;
    const result = this.chain.then(async () => {
      // A resize queued after the last byte (an attach resizes just before its snapshot) is applied too.
      await this.parse(() => this.doneBytes < target || this.pending[0]?.kind === 'resize');
      return { bytes: this.render(), offset: target };
    });
    this.chain = result.then(() => undefined, () => undefined);
    return result;
  }

  /** Stops timers and frees the emulator. */
  dispose(): void {
    this.disposed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.pending.length = 0;
    this.emulator?.term.dispose();
    this.emulator = null;
  }

  // The emulator, built on first use (loads @xterm/headless lazily: daemon only).
  private get term(): Terminal {
    if (!this.emulator) {
      const { Terminal: HeadlessTerminal } = require('@xterm/headless') as typeof import('@xterm/headless');
      const term = new HeadlessTerminal({ rows: this.rows, cols: this.cols, scrollback: 0, allowProposedApi: true, logLevel: 'off' });
      this.emulator = { term, hooked: hookUntrackedModes(term) };
    }
    return this.emulator.term;
  }

  private render(): Buffer {
    if (this.disposed) return Buffer.alloc(0);
    const term = this.term;
    return Buffer.from(renderScreen(term, this.emulator!.hooked), 'utf8');
  }

  private armIdle(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => this.onIdle(), this.idleMs).unref();
  }

  private onIdle(): void {
    this.idleTimer = null;
    if (this.disposed || this.pending.length === 0) return;
    // Parse while the session stays quiet; new output re-arms the timer and we stop after a slice.
    const chained = this.chain.then(() => this.parse(() => Date.now() - this.lastFeedAt >= this.idleMs, PARSE_SLICE_BYTES));
    this.chain = chained.then(() => {
      if (this.pending.length > 0 && !this.disposed) this.armIdle();
    });
  }

  // Parses queued items while `more()` says so. Writes are handed to xterm back to back and only
  // the last is awaited: awaiting each write costs a timer turn (1 MiB in 4 KiB chunks: 614 ms
  // awaited one by one, 80 ms in one go). `sliceBytes` bounds how much is handed over per check.
  private async parse(more: () => boolean, sliceBytes = Infinity): Promise<void> {
    while (!this.disposed && this.pending.length > 0 && more()) {
      let handed = 0;
      let last: Promise<void> = Promise.resolve();
      while (!this.disposed && this.pending.length > 0 && handed < sliceBytes && more()) {
        const item = this.pending[0];
        this.shift();
        if (item.kind === 'resize') {
          // Bytes handed over before the resize must be parsed at the old size.
          await last;
          if (this.disposed) return;
          this.term.resize(item.cols, item.rows);
          continue;
        }
        handed += item.data.length;
        this.doneBytes += item.data.length;
        last = new Promise<void>((resolve) => this.term.write(item.data, resolve));
      }
      await last;
    }
  }

  private enqueue(chunk: Buffer): void {
    const t = this.tail;
    if (chunk.length > Math.min(TAIL_MAX_CHUNK_BYTES, this.tailBlockBytes)) {
      this.tail = null;
      this.pending.push({ kind: 'bytes', data: chunk });
      return;
    }
    if (t && t.used + chunk.length <= t.block.length) {
      chunk.copy(t.block, t.used);
      t.used += chunk.length;
      t.item.data = t.block.subarray(0, t.used);
      return;
    }
    const block = Buffer.allocUnsafe(this.tailBlockBytes);
    chunk.copy(block, 0);
    const item = { kind: 'bytes' as const, data: block.subarray(0, chunk.length) };
    this.tail = { item, block, used: chunk.length };
    this.pending.push(item);
  }

  private shift(): void {
    const item = this.pending.shift()!;
    // Handed to xterm (or skipped): later chunks must not be copied into its block.
    if (this.tail?.item === item) this.tail = null;
    if (item.kind === 'bytes') this.pendingBytes -= item.data.length;
  }

  // The queue is full: drop the oldest output (applying a queued resize rather than losing it).
  private skipOldest(): void {
    const item = this.pending[0];
    if (!item) return;
    this.shift();
    if (item.kind === 'resize') {
      this.term.resize(item.cols, item.rows);
      return;
    }
    this.doneBytes += item.data.length;
    this.skippedBytes += item.data.length;
  }
}
