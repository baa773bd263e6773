// The client side of `runpm attach` for a PTY session: the local terminal in raw mode, keystrokes as
// input frames, SIGWINCH as resize frames, a detach key, and the terminal restored on every way out.
// Lives for one attach; without a TTY on both ends it just streams bytes (scripts pipe through it).
import type { DaemonClient } from '../client/daemon-client';
import type { PtyAttachment, PtyReplay } from '../client/pty-api';

/** Ctrl-\ (like dtach). */
export const DEFAULT_DETACH_KEY = 0x1c;

export interface TerminalAttachOptions {
  sessionId: string;
  steal: boolean;
  replay: PtyReplay;
  /** Byte that detaches (TTY only), or null for none. */
  detachKey: number | null;
}

/** The local ends; process.stdin/stdout/stderr unless a test passes others. */
export interface TerminalIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

// Leaves what a full-screen program may have switched on in the local terminal: alternate screen,
// hidden cursor, mouse reporting, bracketed paste, application cursor keys and keypad, colours.
const RESTORE_TERMINAL = '\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>';

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

/** An exit code for the shell from a session's exit code (-N = killed by signal N → 128+N). */
export function shellExitCode(code: number): number {
  return code < 0 ? 128 + -code : code & 0xff;
}

/**
 * Attaches the local terminal to a PTY session until detach, the child's exit, a steal, the daemon
 * going away, or a signal to this process. Resolves with the exit code for `runpm attach`.
 */
export async function runTerminalAttach(client: DaemonClient, opts: TerminalAttachOptions, io: TerminalIo = process): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const isTty = Boolean(stdin.isTTY && stdout.isTTY);
  let att: PtyAttachment | null = null;
  let restored = false;
  let rawSet = false;
  const cleanups: Array<() => void> = [];
  // Runs on every way out, once: the terminal goes back to how we found it.
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const fn of cleanups.splice(0)) fn();
    if (rawSet) {
      try {
        stdin.setRawMode(false);
      } catch {
        // stdin already closed.
      }
      stdout.write(RESTORE_TERMINAL);
    }
    stdin.pause();
  };

  let finish!: (r: { code: number; reason: string }) => void;
  const finished = new Promise<{ code: number; reason: string }>((resolve) => (finish = resolve));
  const end = (code: number, reason: string) => {
    restore();
    finish({ code, reason });
  };

  // Signals are handled from the start: one may arrive while the attach is still being answered.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      att?.close();
      end(128 + (require('node:os').constants.signals[sig] as number),
        `runpm: ${sig} received; detached, session ${opts.sessionId} keeps running`);
    };
    process.on(sig, onSignal);
    cleanups.push(() => process.removeListener(sig, onSignal));
  }
  try {
    att = await client.attachPty(opts.sessionId, {
      steal: opts.steal,
      replay: opts.replay,
      isTty,
      rows: isTty ? stdout.rows : 0,
      cols: isTty ? stdout.columns : 0,
      term: process.env.TERM ?? '',
    });
  } catch (err) {
    restore();
    throw err;
  }
  if (restored) {
    // A signal came first: let go of the attachment we just got.
    att.close();
    const { code, reason } = await finished;
    stderr.write(`${reason}\n`);
    return code;
  }
  const attachment = att;

  if (isTty) {
    stdin.setRawMode(true);
    rawSet = true;
    const onWinch = () => attachment.resize(stdout.rows, stdout.columns);
    process.on('SIGWINCH', onWinch);
    cleanups.push(() => process.removeListener('SIGWINCH', onWinch));
  }
  const onUncaught = (err: Error) => {
    attachment.close();
    end(1, `runpm: attach failed: ${err.message}`);
  };
  process.on('uncaughtException', onUncaught);
  cleanups.push(() => process.removeListener('uncaughtException', onUncaught));

  const onInput = (chunk: Buffer) => {
    if (isTty && opts.detachKey !== null) {
      const at = chunk.indexOf(opts.detachKey);
      if (at >= 0) {
        if (at > 0) attachment.write(chunk.subarray(0, at));
        attachment.detach();
        stdin.removeListener('data', onInput);
        return;
      }
    }
    attachment.write(chunk);
  };
  stdin.on('data', onInput);
  cleanups.push(() => stdin.removeListener('data', onInput));
  stdin.resume();

  void pumpOutput(attachment, stdout, opts).then((r) => end(r.code, r.reason), (err: Error) => end(1, `runpm: ${err.message}`));
  if (attachment.backlogTruncated && !isTty) stderr.write(`runpm: [${attachment.bytesMissed} bytes dropped before this output]\n`);
  const { code, reason } = await finished;
  if (reason) stderr.write(`${rawSet ? '\r\n' : ''}${reason}\n`);
  return code;
}

// Writes the backlog and live output (honouring stdout backpressure) until the terminal frame.
async function pumpOutput(att: PtyAttachment, stdout: NodeJS.WriteStream, opts: TerminalAttachOptions): Promise<{ code: number; reason: string }> {
  const write = (data: Buffer) => new Promise<void>((resolve) => (stdout.write(data) ? resolve() : stdout.once('drain', resolve)));
  if (att.backlog.length > 0) await write(att.backlog);
  for await (const f of att) {
    switch (f.kind) {
      case 'output': await write(f.data); break;
      case 'missed': break; // The screen is what it is; a marker would corrupt a full-screen program.
      case 'exit': return { code: shellExitCode(f.code), reason: `runpm: session ${opts.sessionId} exited with code ${f.code}` };
      case 'stolen': return { code: 1, reason: `runpm: detached: session ${opts.sessionId} was taken over by ${f.by}` };
      case 'error':
        if (f.message === 'detached') {
          const key = opts.detachKey === null ? '' : ` (${describeKey(opts.detachKey)})`;
          return { code: 0, reason: `runpm: detached from session ${opts.sessionId}${key}; it keeps running` };
        }
        return { code: 1, reason: `runpm: session ${opts.sessionId}: ${f.message}` };
    }
  }
  return { code: 1, reason: `runpm: lost the connection to runpmd; session ${opts.sessionId} may still be running` };
}
