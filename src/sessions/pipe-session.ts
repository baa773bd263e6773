// PipeSession: a daemon-owned child with piped stdin/stdout/stderr (subprocess.Popen analog).
// Owns the child, one OutputStream per output (one when stderr is merged), the stdin writer and
// its taps, and the kill schedule. Lives from spawn until the table drops it; never sees sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { InvalidArgumentError } from '../wire/errors';
import { withUserUmask } from '../scope/umask';
import { ChildSession } from './child-session';
import { OutputStream, type AttachFrameCodec } from './output-stream';
import type { Session } from './session-table';
import { spawnErrorOf } from './spawn-checks';
import { whenSettled } from './leftovers';
import { TapSet, type StreamTap } from './tap-set';
import { readPipe } from './pipe-reader';

/** After the leader exits, how long its output pipes may stay open before streams end anyway. */
const EXIT_DRAIN_MS = 250;
/** After an output pipe ends, how long to wait for the exit so attachments end with exit_code. */
const EOF_EXIT_WAIT_MS = 100;

export type PipeStreamName = 'stdout' | 'stderr';

export interface PipeSpawnOptions {
  id: string;
  /** Checked: the child sees argv[0] as given. */
  argv: string[];
  /** The executable argv[0] names, absolute (spawn-plan.ts found it). */
  file: string;
  /** Absolute, existing directory. */
  cwd: string;
  env: Record<string, string>;
  originator: string;
  mergeStderr: boolean;
  /** Keep output unread until the first attach of each stream (SpawnPipeSession hold_output_until_attached). */
  holdOutput?: boolean;
  ringBytes: number;
  codec: AttachFrameCodec;
}

/** Starts the planned child and resolves once it runs; rejects as a shell would report a start failure. */
export function spawnPipeSession(opts: PipeSpawnOptions): Promise<PipeSession> {
  const child = withUserUmask(() => spawn(opts.file, opts.argv.slice(1), {
    argv0: opts.argv[0],
    cwd: opts.cwd,
    env: opts.env,
    detached: true, // own process group: terminate signals the whole group
    stdio: ['pipe', 'pipe', 'pipe'],
  }));
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      child.removeListener('spawn', onSpawn);
      reject(spawnErrorOf(opts.argv[0]!, err));
    };
    const onSpawn = () => {
      child.removeListener('error', onError);
      resolve(new PipeSession(opts, child));
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
}

export class PipeSession extends ChildSession implements Session {
  readonly kind = 'pipe' as const;
  readonly id: string;
  readonly pid: number;
  readonly originator: string;
  readonly command: string;
  readonly cwd: string;
  readonly createdAtMs = Date.now();
  readonly mergeStderr: boolean;
  readonly streams = new Map<string, OutputStream>();
  /** Tees of the bytes actually written to the child's stdin. */
  readonly stdinTaps = new TapSet();
  private stdinClosed = false;
  private stdinChain: Promise<unknown> = Promise.resolve();
  private openPipes: number;

  constructor(opts: PipeSpawnOptions, private readonly child: ChildProcess) {
    super();
    this.id = opts.id;
    this.pid = child.pid!;
    this.originator = opts.originator;
    this.command = opts.argv.join(' ');
    this.cwd = opts.cwd;
    this.mergeStderr = opts.mergeStderr;
    this.trackChild(this.pid);
    const out = new OutputStream(`stdout of session ${opts.id}`, opts.ringBytes, opts.codec);
    this.streams.set('stdout', out);
    const err = opts.mergeStderr ? out : new OutputStream(`stderr of session ${opts.id}`, opts.ringBytes, opts.codec);
    if (!opts.mergeStderr) this.streams.set('stderr', err);
    this.openPipes = opts.mergeStderr ? 2 : 1;
    // Chunks are views of a shared read buffer: the streams copy what they keep.
    // Reads capped at the flow slack: after a pause, one more read (of each pipe, when merged) still
    // fits the ring (issue 15.1).
    const maxRead = opts.mergeStderr ? Math.floor(out.slackBytes / 2) : out.slackBytes;
    const stdout = readPipe(child.stdout!, (c) => out.push(c, true), maxRead);
    const stderr = readPipe(child.stderr!, (c) => err.push(c, true), maxRead);
    if (opts.mergeStderr) {
      out.setSource({ pause: () => { stdout.pause(); stderr.pause(); }, resume: () => { stdout.resume(); stderr.resume(); } });
    } else {
      out.setSource({ pause: () => stdout.pause(), resume: () => stdout.resume() });
      err.setSource({ pause: () => stderr.pause(), resume: () => stderr.resume() });
    }
    if (opts.holdOutput) for (const stream of this.streams.values()) stream.holdUntilAttached();
    const pipeEnded = (stream: OutputStream) => () => {
      if (opts.mergeStderr && --this.openPipes > 0) return;
      this.onStreamEof(stream);
    };
    stdout.once('end', pipeEnded(out));
    stderr.once('end', pipeEnded(err));
    stdout.on('error', () => {});
    stderr.on('error', () => {});
    // EPIPE when the child exits without reading: surfaced by writeStdin, never thrown here.
    child.stdin!.on('error', () => {});
    child.once('exit', (code, signal) => {
      const signo = signal ? (os.constants.signals[signal] ?? 0) : 0;
      this.recordExit({ code: code ?? -signo, signal, exitedAtMs: Date.now() });
      this.onExit();
    });
  }

  /** The named stream, or INVALID_ARGUMENT (stderr of a merged session). */
  stream(name: PipeStreamName): OutputStream {
    const s = this.streams.get(name);
    if (!s) throw new InvalidArgumentError(`session ${this.id} merges stderr into stdout: it has no separate stderr stream`);
    return s;
  }

  /** Adds a tee on stdin (bytes accepted by the child's pipe, in order). */
  addStdinTap(tap: StreamTap): void {
    this.stdinTaps.add(tap);
  }

  removeStdinTap(tap: StreamTap): void {
    this.stdinTaps.remove(tap);
  }

  /**
   * Writes to the child's stdin; resolves once the pipe took the bytes (backpressure: a child that
   * does not read holds the answer back). Writes are serialized in arrival order.
   */
  writeStdin(data: Buffer, close: boolean): Promise<number> {
    if (this.exitInfo) throw new InvalidArgumentError(`session ${this.id} has exited; its stdin is gone`);
    if (this.stdinClosed) throw new InvalidArgumentError(`stdin of session ${this.id} is closed`);
    if (close) this.stdinClosed = true;
    const stdin = this.child.stdin!;
    const run = async (): Promise<number> => {
      if (stdin.destroyed || stdin.writableEnded) {
        throw new InvalidArgumentError(`stdin of session ${this.id} is closed (the child closed it or exited)`);
      }
      if (data.length > 0) {
        await new Promise<void>((resolve, reject) => {
          stdin.write(data, (err) => (err
            ? reject(new InvalidArgumentError(`writing stdin of session ${this.id} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`))
            : resolve()));
        });
        this.stdinTaps.write(data);
      }
      if (close) {
        stdin.end();
        this.stdinTaps.end();
      }
      return data.length;
    };
    const p = this.stdinChain.then(run, run);
    this.stdinChain = p.catch(() => {});
    return p;
  }

  private onStreamEof(stream: OutputStream): void {
    if (this.exitInfo) {
      stream.end({ kind: 'exit', code: this.exitInfo.code });
      return;
    }
    // The pipe closes just before the exit is reported in the usual case: wait a moment for it.
    const timer = setTimeout(() => { if (!stream.ended) stream.end({ kind: 'eof' }); }, EOF_EXIT_WAIT_MS);
    void this.waitForExit().then((info) => {
      clearTimeout(timer);
      stream.end({ kind: 'exit', code: info.code });
    });
  }

  private onExit(): void {
    this.stdinClosed = true;
    this.stdinTaps.end();
    const endStreams = () => {
      for (const s of this.streams.values()) if (!s.ended) s.end({ kind: 'exit', code: this.exitInfo!.code });
    };
    // What the leader left running in its group or session (`sleep 30 &`) is part of the session:
    // its output still reaches the streams, which end when it closes them or is gone. A process
    // that left the session (a daemon that called setsid) may keep the pipes open: attachments do
    // not wait on that beyond the drain.
    setTimeout(() => {
      if ([...this.streams.values()].every((s) => s.ended)) return;
      // Settled: nothing of the session runs, but what it wrote last may still be in the pipes
      // (a timer runs before the read that is ready in the same loop turn): the streams end by
      // their EOF, and only a pipe something outside the session keeps open is cut after the drain.
      whenSettled(this.leftovers(), () => setTimeout(endStreams, EXIT_DRAIN_MS).unref());
    }, EXIT_DRAIN_MS).unref();
  }
}
