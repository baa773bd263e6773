// One child on a pseudo-terminal, through node-pty, with output as Buffers and exit reported only
// after the master has been drained. Lives from spawn until the child exited and the master closed.
// node-pty loses the tail of a fast writer's output (docs/notes/node-pty-tail-loss.md): libuv
// reports EOF on POLLHUP while the kernel still queues bytes; we read those synchronously on 'end'.
// Pausing (a lossless reader a ring behind, a BLOCK tee) is safe across an exit: node-pty destroys
// its socket 200 ms after the exit when it has not closed, and our destroy hook first hands on what
// its stream buffered and drains the master, so the bytes reach onData before the exit.
import { withUserUmask } from '../scope/umask';
import * as fs from 'node:fs';
import type { IPty } from 'node-pty';
import { readTerminalGroup } from '../proc/process-table';

/** What the child is and where it runs; env is the final environment (no layering here). */
export interface PtyHostOptions {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  rows: number;
  cols: number;
}

/** How the child ended: exit code, or the signal number that killed it (then exitCode is -n, as for pipe sessions). */
export interface PtyExit {
  exitCode: number;
  signal: number | null;
}

export interface PtyHostEvents {
  /** Output bytes, in order, including the drained tail. Never called after onExit. */
  onData(chunk: Buffer): void;
  /** Called once, after every output byte was delivered. */
  onExit(exit: PtyExit): void;
}

/** The members node-pty has in JavaScript but not in its typings. */
interface PtyInternals {
  readonly fd: number;
  on(event: 'end', listener: () => void): void;
  /** The master's tty.ReadStream (node-pty 1.x). */
  readonly _socket?: { destroy: (err?: Error) => unknown; read(): unknown; readonly destroyed: boolean };
}

const DRAIN_CHUNK_BYTES = 64 * 1024;
/** How long the drain waits, in total, for a master that says EAGAIN instead of EIO. */
const DRAIN_EAGAIN_BUDGET_MS = 50;
const DRAIN_EAGAIN_STEP_MS = 1;

export class PtyHost {
  private exit: PtyExit | null = null;
  private paused = false;
  private readonly pty: IPty & PtyInternals;

  private constructor(pty: IPty, private readonly events: PtyHostEvents) {
    this.pty = pty as IPty & PtyInternals;
    this.pty.onData((chunk) => this.deliver(chunk as unknown as Buffer));
    this.hookDestroy();
    // 'end' comes from the master's tty.ReadStream before its 'close', and node-pty reports the exit
    // only after 'close': the drain below therefore always precedes onExit.
    this.pty.on('end', () => this.drainMaster());
    this.pty.onExit(({ exitCode, signal }) => {
      this.exit = signal ? { exitCode: -signal, signal } : { exitCode, signal: null };
      this.events.onExit(this.exit);
    });
  }

  /** Starts the child; throws synchronously if node-pty cannot fork. Loads node-pty lazily. */
  static spawn(opts: PtyHostOptions, events: PtyHostEvents): PtyHost {
    const nodePty = require('node-pty') as typeof import('node-pty');
    // The child gets the user's umask, not the daemon's 0077 (node-pty forks inside spawn()).
    const pty = withUserUmask(() => nodePty.spawn(opts.file, opts.args, {
      name: opts.env.TERM ?? 'xterm-256color',
      cols: opts.cols,
      rows: opts.rows,
      cwd: opts.cwd,
      env: opts.env,
      encoding: null,
    }));
    return new PtyHost(pty, events);
  }

  get pid(): number {
    return this.pty.pid;
  }

  get rows(): number {
    return this.pty.rows;
  }

  get cols(): number {
    return this.pty.cols;
  }

  /** The exit once reported, else null. */
  get exited(): PtyExit | null {
    return this.exit;
  }

  /** Stops reading the master: the kernel's queue fills and the child blocks on its writes, as on a real terminal. */
  pause(): void {
    if (this.exit) return;
    this.paused = true;
    this.pty.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pty.resume();
  }

  /** Queues bytes for the child's input (node-pty writes them as the kernel accepts them). */
  write(data: Buffer | string): void {
    if (this.exit) return;
    this.pty.write(data as string);
  }

  /** Input bytes accepted by write() that the kernel has not taken yet (node-pty's write queue). */
  queuedInputBytes(): number {
    const internals = this.pty as unknown as { _writeStream?: { _writeQueue?: Array<{ buffer: Buffer; offset: number }> } };
    const queue = internals._writeStream?._writeQueue;
    if (!queue) return 0;
    let n = 0;
    for (const task of queue) n += task.buffer.length - task.offset;
    return n;
  }

  /** Resizes the terminal; the child gets SIGWINCH. Ignored once the child has exited. */
  resize(rows: number, cols: number): void {
    if (this.exit) return;
    if (rows === this.pty.rows && cols === this.pty.cols) return;
    try {
      this.pty.resize(cols, rows);
    } catch {
      // The master may close between the exit check and the ioctl; nothing to resize then.
    }
  }

  /** Sends a signal to the direct child (not its group). No-op once it has exited. */
  kill(signal: NodeJS.Signals): void {
    if (this.exit) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: the exit event is on its way.
    }
  }

  /** Sends a signal to the terminal's foreground process group (Ctrl-C semantics), else to the child. */
  signalForeground(signal: NodeJS.Signals): void {
    if (this.exit) return;
    const pgid = readForegroundPgid(this.pid);
    try {
      if (pgid > 0) process.kill(-pgid, signal);
      else process.kill(this.pid, signal);
    } catch {
      // The group may have just ended.
    }
  }

  // node-pty destroys the master's stream 200 ms after the child's exit if it has not closed by
  // then (it stays open while paused): what the stream buffered and what the kernel still queues
  // would go with it. Before that destroy, read both out (read() emits 'data' even when paused).
  private hookDestroy(): void {
    const socket = this.pty._socket;
    if (!socket || typeof socket.destroy !== 'function') return;
    const destroy = socket.destroy.bind(socket);
    socket.destroy = (err?: Error) => {
      if (!socket.destroyed && this.exit === null) {
        try {
          while (socket.read() !== null) { /* each read() emitted 'data' */ }
        } catch {
          // A stream that cannot be read any more has nothing buffered to lose.
        }
        this.drainMaster();
      }
      return destroy(err);
    };
  }

  private deliver(chunk: Buffer): void {
    if (chunk.length === 0 || this.exit) return;
    this.events.onData(chunk);
  }

  // Reads what libuv left in the kernel queue. The fd is still open and non-blocking here.
  // EIO is the kernel's "queue empty and slave closed"; EAGAIN means a slave is still open
  // (a lingering grandchild): we wait a little, bounded, then give up as node-pty would.
  private drainMaster(): void {
    const buf = Buffer.allocUnsafe(DRAIN_CHUNK_BYTES);
    let waitedMs = 0;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.pty.fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && waitedMs < DRAIN_EAGAIN_BUDGET_MS) {
          sleepSync(DRAIN_EAGAIN_STEP_MS);
          waitedMs += DRAIN_EAGAIN_STEP_MS;
          continue;
        }
        return; // EIO (drained), EBADF (already closed) or budget spent.
      }
      if (n <= 0) return;
      this.deliver(Buffer.from(buf.subarray(0, n)));
    }
  }
}

/** The foreground process group of pid's terminal; -1 when pid is gone or the table cannot be read. */
export function readForegroundPgid(pid: number): number {
  try {
    const tpgid = readTerminalGroup(pid);
    return tpgid !== null && Number.isInteger(tpgid) ? tpgid : -1;
  } catch {
    return -1; // Unreadable now: the caller signals the child itself instead.
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
