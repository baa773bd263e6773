// The client side of `runpm attach` for a PTY session: the local terminal in raw mode, keystrokes as
// input frames, SIGWINCH as resize frames, a detach key, and the terminal put back as it was on
// every way out. Lives for one attach; without a TTY on both ends it just streams bytes (scripts
// pipe through it). Keystrokes come first: output is written off the event loop (tty-writer.ts)
// and the detach key acts at once, without waiting for the output still in flight.
import * as os from 'node:os';
import type { DaemonClient } from '../client/daemon-client';
import type { PtyAttachment, PtyReplay } from '../client/pty-api';
import { describeExit, describeLostConnection, readDaemonPid, settleProcess, shellExitCode } from './attach-endings';
import { TerminalModes } from './terminal-modes';
import { TtyWriter } from './tty-writer';

export { shellExitCode } from './attach-endings';

/** Ctrl-\ (like dtach). */
export const DEFAULT_DETACH_KEY = 0x1c;

export interface TerminalAttachOptions {
  sessionId: string;
  steal: boolean;
  /** What to show first; default: the screen on a TTY, what this client missed otherwise. */
  replay?: PtyReplay;
  /** Byte that detaches (TTY only), or null for none. */
  detachKey: number | null;
  /** The daemon's lock file (its pid), for saying what happened if the connection drops. */
  lockPath?: string;
  /** Whether a fresh connection to the daemon succeeds (asked after the connection dropped). */
  daemonAnswers?: () => Promise<boolean>;
}

/** The local ends; process.stdin/stdout/stderr unless a test passes others. */
export interface TerminalIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Output queued for the terminal beyond which the daemon's stream is not read (~a screenful or two of a flood). */
const TTY_QUEUE_HIGH_WATER_BYTES = 128 * 1024;
/** Frames buffered unread from the daemon before its socket is paused. */
const TTY_BUFFERED_FRAME_BYTES = 128 * 1024;
/**
 * Output in flight (sent by the daemon, not yet written to the terminal) at most: what a ^C's echo
 * or a prompt can be behind during a flood (issue 18.3). 128 KiB is a few ms of a terminal's
 * speed; the kernel's socket buffers alone would hold ~400 KiB and the daemon's socket budget 1 MiB.
 */
export const TTY_OUTPUT_WINDOW_BYTES = 128 * 1024;
/** After a local detach, how long the detach frame may take to reach the kernel before leaving anyway. */
const DETACH_SEND_MS = 1000;
/** After a lost connection, how long a hung-up session process may take to exit before it counts as running. */
const HANGUP_SETTLE_MS = 500;
/** Bytes that end any escape sequence a discarded chunk may have left open (CAN), then SGR reset. */
const ABORT_SEQUENCE = '\x18';

/** Parses --detach-key: "^X" control notation, "^?" (DEL), one character, or "none". */
export function parseDetachKey(spec: string): number | null {
  if (spec === 'none' || spec === '') return null;
  if (spec.length === 2 && spec[0] === '^') {
    const ch = spec[1]!;
    if (ch === '?') return 0x7f;
    const code = ch.toUpperCase().charCodeAt(0);
    if (code >= 0x40 && code <= 0x5f) return code - 0x40;
  }
  if (Buffer.byteLength(spec) === 1) return spec.charCodeAt(0);
  throw new Error(`--detach-key expects ^X notation (e.g. ^\\ or ^]), one character, or "none"; got ${JSON.stringify(spec)}`);
}

function describeKey(key: number): string {
  if (key === 0x7f) return '^?';
  return key < 0x20 ? `^${String.fromCharCode(key + 0x40)}` : String.fromCharCode(key);
}

/** How an attach ended: the exit status and the line for stderr; `discard` drops output not shown yet. */
interface Ending {
  code: number;
  reason: string;
  discard: boolean;
}

/** The terminal side: raw mode, the writer, the mode tracker, and putting it all back. */
class LocalTerminal {
  readonly writer: TtyWriter | null;
  private readonly modes: TerminalModes | null;
  private rawSet = false;

  constructor(private readonly io: TerminalIo, readonly isTty: boolean) {
    if (!isTty) {
      this.writer = null;
      this.modes = null;
      return;
    }
    const modes = new TerminalModes(() => io.stdout.rows || 24);
    this.modes = modes;
    const fd = (io.stdout as unknown as { fd?: number }).fd ?? 1;
    this.writer = new TtyWriter(fd, (chunk) => modes.feed(chunk));
  }

  enterRawMode(): void {
    if (!this.isTty) return;
    this.io.stdin.setRawMode(true);
    this.rawSet = true;
  }

  /**
   * Output for the terminal; resolves when the caller may hand over more (backpressure).
   * `written` runs once the terminal took all of it.
   */
  write(data: Buffer, written?: () => void): Promise<void> {
    if (data.length === 0) return Promise.resolve();
    if (this.writer) {
      this.writer.write(data, written);
      return this.writer.below(TTY_QUEUE_HIGH_WATER_BYTES);
    }
    const out = this.io.stdout;
    return new Promise((resolve) => (out.write(data) ? resolve() : out.once('drain', resolve)));
  }

  /** A notice for the person at the terminal, in the output stream (or on stderr without a TTY). */
  notice(text: string): void {
    if (this.writer) this.writer.write(Buffer.from(`\r\n\x1b[0m${text}\r\n`));
    else this.io.stderr.write(`${text}\n`);
  }

  /**
   * Puts the terminal back (modes, screen, cooked mode), after the output that is to be shown.
   * Resolves true when that left the alternate screen (the cursor is back where the attach began).
   */
  async restore(discard: boolean): Promise<boolean> {
    let leftAlternate = false;
    if (this.writer && this.modes) {
      if (discard) this.writer.discard();
      await this.writer.idle();
      leftAlternate = this.modes.altScreen !== 0;
      this.writer.write(Buffer.from(`${discard ? ABORT_SEQUENCE : ''}${this.modes.restoreSequence()}`));
      await this.writer.idle();
    }
    if (this.rawSet) {
      try {
        this.io.stdin.setRawMode(false);
      } catch {
        // stdin already closed.
      }
    }
    this.io.stdin.pause();
    return leftAlternate;
  }
}

/**
 * Attaches the local terminal to a PTY session until detach, the child's exit, a steal, the daemon
 * going away, or a signal to this process. Resolves with the exit code for `runpm attach`.
 */
export async function runTerminalAttach(client: DaemonClient, opts: TerminalAttachOptions, io: TerminalIo = process): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const terminal = new LocalTerminal(io, Boolean(stdin.isTTY && stdout.isTTY));
  const isTty = terminal.isTty;
  const replay = opts.replay ?? (isTty ? 'screen' : 'missed');
  const daemonPid = opts.lockPath ? readDaemonPid(opts.lockPath) : null;
  const cleanups: Array<() => void> = [];
  let att: PtyAttachment | null = null;

  let settle!: (e: Ending) => void;
  const ended = new Promise<Ending>((resolve) => (settle = resolve));
  let ending: Ending | null = null;
  const end = (e: Ending) => {
    if (ending) return;
    ending = e;
    settle(e);
  };

  // Signals are handled from the start: one may arrive while the attach is still being answered.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      att?.close();
      end({ code: 128 + (os.constants.signals[sig] as number), reason: `runpm: ${sig} received; detached, session ${opts.sessionId} keeps running`, discard: true });
    };
    process.on(sig, onSignal);
    cleanups.push(() => process.removeListener(sig, onSignal));
  }
  const cleanup = () => {
    for (const fn of cleanups.splice(0)) fn();
  };

  try {
    att = await client.attachPty(opts.sessionId, {
      steal: opts.steal,
      replay,
      isTty,
      rows: isTty ? stdout.rows : 0,
      cols: isTty ? stdout.columns : 0,
      term: process.env.TERM ?? '',
      // Without a terminal the stream is paced by the pipe alone (throughput matters there).
      outputWindowBytes: isTty ? TTY_OUTPUT_WINDOW_BYTES : 0,
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  const attachment = att;
  if (ending) {
    // A signal came first: let go of the attachment we just got.
    attachment.close();
    cleanup();
    stderr.write(`${(ending as Ending).reason}\n`);
    return (ending as Ending).code;
  }

  terminal.enterRawMode();
  if (isTty) {
    attachment.limitBufferedBytes(TTY_BUFFERED_FRAME_BYTES);
    const onWinch = () => attachment.resize(stdout.rows, stdout.columns);
    process.on('SIGWINCH', onWinch);
    cleanups.push(() => process.removeListener('SIGWINCH', onWinch));
  }
  const onUncaught = (err: Error) => {
    attachment.close();
    end({ code: 1, reason: `runpm: attach failed: ${err.message}`, discard: true });
  };
  process.on('uncaughtException', onUncaught);
  cleanups.push(() => process.removeListener('uncaughtException', onUncaught));

  // The detach key acts here and now: the output still on its way is not worth waiting for.
  let detachedByKey = false;
  const onInput = (chunk: Buffer) => {
    if (ending) return;
    if (isTty && opts.detachKey !== null) {
      const at = chunk.indexOf(opts.detachKey);
      if (at >= 0) {
        if (at > 0) attachment.write(chunk.subarray(0, at));
        detachedByKey = true;
        attachment.detach();
        end({ code: 0, reason: `runpm: detached from session ${opts.sessionId} (${describeKey(opts.detachKey)}); it keeps running`, discard: true });
        return;
      }
    }
    attachment.write(chunk);
  };
  stdin.on('data', onInput);
  cleanups.push(() => stdin.removeListener('data', onInput));
  stdin.resume();

  const pumped = pumpOutput(attachment, terminal, () => ending !== null, isTty ? acknowledger(attachment) : undefined).then(
    async (e) => {
      if (!ending) end(await explain(e, client, attachment, opts, daemonPid));
    },
    (err: Error) => end({ code: 1, reason: `runpm: ${err.message}`, discard: true }),
  );
  if (attachment.backlogTruncated && !isTty) stderr.write(`[runpm: ${attachment.bytesMissed} bytes dropped before this output]\n`);
  const result = await ended;
  const leftAlternateScreen = await terminal.restore(result.discard);
  cleanup();
  // On its own line: after the alternate screen the cursor is back where the attach began (a line
  // start); after a normal-screen session it may be anywhere on the session's last line.
  if (result.reason) stderr.write(`${!isTty ? '' : leftAlternateScreen ? '\r' : '\r\n'}${result.reason}\n`);
  if (detachedByKey) await sendDetachAndLeave(attachment);
  else attachment.close();
  await pumped;
  return result.code;
}

/** What ended the stream, before it is put into words. */
type StreamEnd =
  | { kind: 'exit'; code: number }
  | { kind: 'stolen'; by: string }
  | { kind: 'detached' }
  | { kind: 'error'; message: string }
  | { kind: 'lost' }
  | { kind: 'abandoned' };

/**
 * Counts output the terminal took and tells the daemon (which keeps at most the window in flight):
 * one acknowledgement per batch of writes, sent as the batch completes.
 */
function acknowledger(att: PtyAttachment): (bytes: number) => void {
  let consumed = 0;
  let scheduled = false;
  return (bytes) => {
    consumed += bytes;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      att.acknowledge(consumed);
    });
  };
}

// Writes the backlog and live output (honouring the terminal's backpressure) until the terminal frame;
// `shown` hears of each output frame's bytes once the terminal took them.
async function pumpOutput(att: PtyAttachment, terminal: LocalTerminal, stopped: () => boolean, shown?: (bytes: number) => void): Promise<StreamEnd> {
  await terminal.write(att.backlog);
  for (;;) {
    if (stopped()) return { kind: 'abandoned' };
    const f = await att.next();
    if (!f) return { kind: 'lost' };
    if (stopped()) return { kind: 'abandoned' };
    switch (f.kind) {
      case 'output': {
        const n = f.data.length;
        await terminal.write(f.data, shown && (() => shown(n)));
        break;
      }
      // The daemon gave up waiting for this client and dropped output: say so where it is missing.
      case 'missed': terminal.notice(`[runpm: ${f.bytes} bytes dropped]`); break;
      case 'exit': return { kind: 'exit', code: f.code };
      case 'stolen': return { kind: 'stolen', by: f.by };
      case 'detached': return { kind: 'detached' };
      case 'error': return { kind: 'error', message: f.message };
    }
  }
}

// Puts the end of the stream into words (asking the daemon what it knows for a signal or a loss).
async function explain(e: StreamEnd, client: DaemonClient, att: PtyAttachment, opts: TerminalAttachOptions, daemonPid: number | null): Promise<Ending> {
  const id = opts.sessionId;
  switch (e.kind) {
    case 'exit': {
      const why = e.code < 0 ? await whySignalled(client, id) : '';
      return { code: shellExitCode(e.code), reason: `runpm: session ${id} ${describeExit(e.code)}${why}`, discard: false };
    }
    case 'stolen': return { code: 1, reason: `runpm: detached: session ${id} was taken over by ${e.by}`, discard: false };
    case 'detached': return { code: 0, reason: `runpm: session ${id} was detached by another client (DetachPtySession); it keeps running`, discard: false };
    case 'error': return { code: 1, reason: `runpm: session ${id}: ${e.message}`, discard: false };
    case 'abandoned': return { code: 1, reason: '', discard: true };
    case 'lost': {
      const answers = opts.daemonAnswers ? await opts.daemonAnswers().catch(() => false) : false;
      // The kernel hangs the terminal up as the daemon dies: give its process a moment to go.
      await settleProcess(att.sessionPid, HANGUP_SETTLE_MS);
      return { code: 1, reason: `runpm: ${describeLostConnection({ sessionId: id, sessionPid: att.sessionPid, daemonPid, daemonAnswers: answers })}`, discard: false };
    }
  }
}

// Why a session's child died of a signal, when the daemon can tell: it is stopping (it hangs its
// sessions up), or the session was terminated by a request. '' when nothing more is known.
async function whySignalled(client: DaemonClient, sessionId: string): Promise<string> {
  try {
    const info = (await client.listPtys()).find((s) => s.sessionId === sessionId);
    if (info && info.terminationOutcome) return ' (terminated by a request: runpm kill or TerminatePtySession)';
    return '';
  } catch {
    // Refused as "shutting down", or the connection already dropped: a daemon that sent the exit
    // frame and then went away stopped (a crash sends no exit frame).
    return ' (runpmd is stopping: it hangs up its sessions)';
  }
}

// After a local detach the output still in flight is not worth reading: the detach frame goes out
// first, and the daemon, reading it before the connection's end, releases the slot as a detach.
async function sendDetachAndLeave(att: PtyAttachment): Promise<void> {
  await att.endSending(DETACH_SEND_MS);
  att.close();
}
