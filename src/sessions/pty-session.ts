// PtySession: a daemon-owned child on a pseudo-terminal. Owns the PtyHost (node-pty, drained before
// exit), one OutputStream named "output", the headless screen for replay, the kill schedule and
// what the attached client said about its terminal. Lives from spawn until the table drops it.
import * as os from 'node:os';
import { UnavailableError } from '../wire/errors';
import { ChildSession } from './child-session';
import { OutputStream, type AttachFrameCodec, type AttachGrant, type AttachRequestOptions } from './output-stream';
import { PtyHost } from './pty-host';
import { PtyScreen } from './pty-screen';
import type { Session } from './session-table';
import { TapSet, type StreamTap } from './tap-set';

export const DEFAULT_PTY_ROWS = 24;
export const DEFAULT_PTY_COLS = 80;
/** The kernel's winsize fields are unsigned shorts. */
export const MAX_PTY_DIMENSION = 65535;
const MAX_SCREEN_PENDING_BYTES = 1024 * 1024;

/** What the backlog of an attach holds (PtyReplayMode on the wire). */
export type PtyReplay = 'missed' | 'ring' | 'screen';

/** How a client attaches (AttachPtySessionRequest, checked). */
export interface AttachOptions {
  steal: boolean;
  replay: PtyReplay;
  terminal: AttachedTerminal;
  /** The client's terminal size (TTY clients only; 0 keeps a dimension). */
  size?: { rows: number; cols: number } | null;
  /** True once the requesting client has gone away. */
  clientGone?: () => boolean;
  /** Offsets and flow (issue 15); fromOffset is ignored with replay 'screen'. */
  flow?: Pick<AttachRequestOptions, 'fromOffset' | 'flow' | 'stallTimeoutMs'>;
}

/** What the attached client reported about its terminal (PtySessionInfo attached_*). */
export interface AttachedTerminal {
  term: string;
  isTty: boolean;
  graphics: unknown;
}

export interface PtySpawnOptions {
  id: string;
  /** Checked (spawn-plan.ts found argv[0]); node-pty's execvp looks it up again in the child. */
  argv: string[];
  /** Absolute path. */
  cwd: string;
  env: Record<string, string>;
  originator: string;
  rows: number;
  cols: number;
  ringBytes: number;
  codec: AttachFrameCodec;
}

/** Starts the planned child on a new PTY (spawn-plan.ts checked argv, cwd and the program). */
export function spawnPtySession(opts: PtySpawnOptions): PtySession {
  return new PtySession(opts);
}

export class PtySession extends ChildSession implements Session {
  readonly kind = 'pty' as const;
  readonly id: string;
  readonly pid: number;
  readonly originator: string;
  readonly command: string;
  readonly cwd: string;
  readonly createdAtMs = Date.now();
  readonly streams = new Map<string, OutputStream>();
  readonly output: OutputStream;
  /** Tees of the terminal input (STDIN tees): what clients wrote to the PTY. */
  readonly stdinTaps = new TapSet();
  /** Set at each attach; meaningful while someone is attached. */
  attachedTerminal: AttachedTerminal | null = null;
  /** Input frames that did not decode (logged and counted, never fatal). */
  undecodableInputFrames = 0;
  private readonly host: PtyHost;
  private readonly screen: PtyScreen;
  /** Settles after the last attach decided (granted or refused); attaches chain on it. */
  private attachQueue: Promise<void> = Promise.resolve();

  constructor(opts: PtySpawnOptions) {
    super();
    this.id = opts.id;
    this.originator = opts.originator;
    this.command = opts.argv.join(' ');
    this.cwd = opts.cwd;
    this.output = new OutputStream(`output of pty session ${opts.id}`, opts.ringBytes, opts.codec);
    this.streams.set('output', this.output);
    // The screen needs recent output only; parsing more would make a screen attach slow (~100 ms/MiB).
    this.screen = new PtyScreen({ rows: opts.rows, cols: opts.cols, maxPendingBytes: Math.min(opts.ringBytes, MAX_SCREEN_PENDING_BYTES) });
    this.host = PtyHost.spawn(
      { file: opts.argv[0]!, args: opts.argv.slice(1), cwd: opts.cwd, env: opts.env, rows: opts.rows, cols: opts.cols },
      {
        onData: (chunk) => {
          this.output.push(chunk);
          this.screen.feed(chunk);
        },
        // PtyHost reports the exit after the master was drained: every byte is in the ring by now.
        onExit: (exit) => this.onExit(exit.exitCode, exit.signal),
      },
    );
    this.pid = this.host.pid;
    // node-pty runs the child as a session leader: its pid is its process group.
    this.trackChild(this.pid);
    // Paused for a lossless reader a ring behind (or a BLOCK tee): PtyHost keeps a pause across the
    // child's exit safe (its destroy hook drains into the ring's slack).
    this.output.setSource({ pause: () => this.host.pause(), resume: () => this.host.resume() });
  }

  get rows(): number {
    return this.host.rows;
  }

  get cols(): number {
    return this.host.cols;
  }

  /** Resizes the terminal; 0 keeps that dimension. Ignored once exited. */
  resize(rows: number, cols: number): void {
    if (this.exitInfo) return;
    const r = rows || this.host.rows;
    const c = cols || this.host.cols;
    if (r === this.host.rows && c === this.host.cols) return;
    this.host.resize(r, c);
    this.screen.resize(r, c);
  }

  /** Bytes for the child's terminal input. Dropped once exited. STDIN tees see what was written. */
  write(data: Buffer): void {
    if (this.exitInfo) return;
    this.host.write(data);
    this.stdinTaps.write(data);
  }

  /** Adds a tee on the terminal's input (bytes written to the PTY, in order). */
  addStdinTap(tap: StreamTap): void {
    this.stdinTaps.add(tap);
  }

  removeStdinTap(tap: StreamTap): void {
    this.stdinTaps.remove(tap);
  }

  /** Input written but not yet taken by the child's terminal (backpressure for attached clients). */
  queuedInputBytes(): number {
    return this.host.queuedInputBytes();
  }

  /** SIGINT to the terminal's foreground process group (what Ctrl-C does in a cooked terminal). */
  interrupt(): void {
    this.host.signalForeground('SIGINT');
  }

  /**
   * Acquires the output for a client. Screen replay renders the emulator first and streams live
   * output from exactly the offset the rendering reflects, so nothing is shown twice or skipped.
   * `size` (a TTY client's terminal) is applied only once the attach is sure to be granted (before
   * the rendering, so it is drawn at that size): a refused attach never resizes the attached
   * client's terminal. Attaches run one at a time, so none can take the slot while another renders.
   */
  attach(label: string, opts: AttachOptions): Promise<AttachGrant> {
    const run = this.attachQueue.then(() => this.attachNow(label, opts));
    this.attachQueue = run.then(() => undefined, () => undefined);
    return run;
  }

  private async attachNow(label: string, opts: AttachOptions): Promise<AttachGrant> {
    let grant: AttachGrant;
    if (opts.replay === 'screen') {
      // Fail fast (no resize, no rendering) when the attach would be refused anyway.
      if (this.output.attachedBy !== null && !opts.steal) this.output.attach(label, { steal: false });
      const before = { rows: this.rows, cols: this.cols };
      if (opts.size) this.resize(opts.size.rows, opts.size.cols);
      const resizedTo = { rows: this.rows, cols: this.cols };
      try {
        const snap = await this.screen.snapshot();
        // The rendering takes a while: a client gone by now must not take the slot (nor steal it).
        if (opts.clientGone?.()) throw new UnavailableError(`${label} left before its attach to session ${this.id} was ready`);
        grant = this.output.attach(label, { steal: opts.steal, startAt: snap.offset, flow: opts.flow?.flow, stallTimeoutMs: opts.flow?.stallTimeoutMs });
        grant.backlog = snap.bytes;
      } catch (err) {
        // Not granted after all: the client still attached keeps its size (unless resized since).
        if (this.rows === resizedTo.rows && this.cols === resizedTo.cols) this.resize(before.rows, before.cols);
        throw err;
      }
    } else {
      grant = this.output.attach(label, { steal: opts.steal, replay: opts.replay, ...opts.flow });
      if (opts.size) this.resize(opts.size.rows, opts.size.cols);
    }
    this.attachedTerminal = opts.terminal;
    return grant;
  }

  // A terminal's soft signal is the hangup: interactive shells ignore SIGTERM but exit on SIGHUP
  // (and pass it on to their jobs). The schedule then adds SIGTERM and SIGKILL after the grace.
  protected override sendSoftSignal(): void {
    this.host.kill('SIGHUP');
  }

  override dispose(reason: string): void {
    super.dispose(reason);
    this.screen.dispose();
  }

  private onExit(code: number, signo: number | null): void {
    const signals = os.constants.signals as Record<string, number>;
    const signal = signo ? (Object.keys(signals).find((name) => signals[name] === signo) as NodeJS.Signals | undefined) ?? null : null;
    this.recordExit({ code, signal, exitedAtMs: Date.now() });
    this.output.end({ kind: 'exit', code });
    this.stdinTaps.end();
  }
}
