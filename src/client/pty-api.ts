// Client methods for PTY sessions (requests 60–64 and 74), installed on DaemonClient by declaration
// merging. PtyAttachment wraps one attach stream: PtyStreamFrames in, PtyInputFrames out.
import { DaemonClient } from './daemon-client';
import type { FrameStream } from './stream';
import { AttachedStream, attachFlowPayload, type AttachFlowOptions } from './attached-stream';
import { bytesFieldWithOffset } from '../wire/frame';
import { RequestType, pb, type running_process } from '../wire/proto';
import type { Decoded, RequestInput, ResponseOutput } from '../wire/payload';
import { attachResponseOf } from './spawn-attached';
import { spawnContextPayload, type SpawnContextOptions } from './spawn-context';
import { sessionExitOf, type SessionExit } from './exit-status';

/** Caller variables a PTY session does not take: its terminal has its own type and size. */
const PTY_OWN_KEYS = ['TERM', 'COLUMNS', 'LINES'];

/** One decoded PtyStreamFrame. exit, error and stolen end the attachment. */
export type PtyFrame =
  /** offset: absolute offset of data[0], on attaches with fromOffset. */
  | { kind: 'output'; data: Buffer; offset?: number }
  /** The daemon dropped `bytes` this reader never got (offset: where the bytes after the gap start). */
  | { kind: 'missed'; bytes: number; offset?: number }
  | { kind: 'exit'; code: number }
  | { kind: 'error'; message: string }
  | { kind: 'stolen'; by: string }
  /** Detached (this client's own detach, or DETACH_PTY_SESSION from another): the session keeps running. */
  | { kind: 'detached' };

/** What an attach's backlog holds: bytes this client missed (default), the whole ring, or the screen. */
export type PtyReplay = 'missed' | 'ring' | 'screen';

/**
 * A PTY session to start: this process's cwd and environment by default (environmentPolicy
 * `caller`), except TERM, COLUMNS and LINES, which belong to the session's terminal (TERM is
 * xterm-256color unless `env` sets it).
 */
export interface SpawnPtyOptions extends SpawnContextOptions {
  /** Program and arguments; argv[0] is looked up on the child's PATH from its cwd, like a shell. */
  argv: string[];
  /** Terminal size; 0 or absent = 24x80. */
  rows?: number;
  cols?: number;
  originator?: string;
}

export interface AttachPtyOptions extends AttachFlowOptions {
  /** Evict the attached client (it gets stolen_by) instead of failing with ALREADY_ATTACHED. */
  steal?: boolean;
  /** Client terminal size; applied only when isTty (0 keeps the session's). */
  rows?: number;
  cols?: number;
  /** The client's TERM (recorded, informational). */
  term?: string;
  /** Whether the client is a real terminal: only TTY clients resize the session. */
  isTty?: boolean;
  graphicsCapabilities?: running_process.daemon.v1.ITerminalGraphicsCapabilities;
  replay?: PtyReplay;
  /**
   * At most this many output bytes in flight beyond what acknowledge() reported shown (issue 18.3):
   * a terminal client keeps keystroke echoes close behind a flood. 0 or absent: no window (the
   * stream is paced by the socket alone). A client that sets it must call acknowledge().
   */
  outputWindowBytes?: number;
}

/** One row of listPtys(): every field set (decoded defaults), the exit status as in PipeSessionInfo. */
export type PtySessionInfo = Omit<Decoded<running_process.daemon.v1.PtySessionInfo>, 'exitCode' | 'toJSON'> & SessionExit;

/** Tag of PtyStreamFrame.output (field 1, length-delimited). */
const PTY_FRAME_OUTPUT_TAG = (1 << 3) | 2;

/** Decodes one PtyStreamFrame body. */
export function decodePtyFrame(body: Buffer): PtyFrame {
  // Output frames (nearly all) are read by hand as a view of the body: no decode, no copy.
  const fast = bytesFieldWithOffset(body, PTY_FRAME_OUTPUT_TAG);
  if (fast) return fast.offset === null ? { kind: 'output', data: fast.data } : { kind: 'output', data: fast.data, offset: fast.offset };
  const f = pb.PtyStreamFrame.decode(body);
  const offset = Object.prototype.hasOwnProperty.call(f, 'offset') ? { offset: Number(f.offset) } : {};
  switch (f.frame) {
    case 'output': return { kind: 'output', data: Buffer.from(f.output.buffer, f.output.byteOffset, f.output.length), ...offset };
    case 'missedBytes': return { kind: 'missed', bytes: Number(f.missedBytes), ...offset };
    case 'exitCode': return { kind: 'exit', code: f.exitCode };
    case 'error': return { kind: 'error', message: f.error };
    case 'stolenBy': return { kind: 'stolen', by: f.stolenBy };
    case 'detached': return { kind: 'detached' };
    default: return { kind: 'error', message: 'empty frame from runpmd' };
  }
}

/**
 * An attached PTY session: the backlog from the attach response, then live frames as an async
 * iterator, and methods that send input, resizes, interrupts and a detach in-band. Iteration ends
 * after the terminal frame; `close()` drops the connection (the session keeps running).
 */
export class PtyAttachment extends AttachedStream<PtyFrame> {
  /** The session's process id (0 from a daemon too old to say). */
  readonly sessionPid: number;

  constructor(response: ResponseOutput<'attachPtySession'>, frames: FrameStream) {
    super(response, frames);
    this.sessionPid = Number(response.sessionPid ?? 0);
  }

  protected decode(body: Buffer): PtyFrame {
    const f = decodePtyFrame(body);
    if (f.kind === 'output') this.track(f.data.length, 0, f.offset);
    else if (f.kind === 'missed') this.track(0, f.bytes, f.offset);
    return f;
  }

  /** Bytes for the session's terminal input (keystrokes). False if the connection is gone. */
  write(data: Uint8Array | string): boolean {
    const input = typeof data === 'string' ? Buffer.from(data) : data;
    return this.frames.send(pb.PtyInputFrame.encode({ input }).finish());
  }

  /** Resizes the session's terminal (ignored by the daemon unless attached with isTty). */
  resize(rows: number, cols: number): boolean {
    return this.frames.send(pb.PtyInputFrame.encode({ resize: { rows, cols } }).finish());
  }

  /** SIGINT to the session's foreground process group. */
  interrupt(): boolean {
    return this.frames.send(pb.PtyInputFrame.encode({ interrupt: true }).finish());
  }

  /** Asks the daemon to release this attachment; the stream then ends with a `detached` frame. */
  detach(): boolean {
    return this.frames.send(pb.PtyInputFrame.encode({ detach: true }).finish());
  }

  /**
   * Reports the output consumed so far (payload bytes of output frames since the attach, in all):
   * opens the window of an attach made with outputWindowBytes.
   */
  acknowledge(totalBytes: number): boolean {
    return this.frames.send(pb.PtyInputFrame.encode({ outputAcknowledged: totalBytes }).finish());
  }

  /** Sends a raw frame body (tests of undecodable input). */
  sendRaw(body: Uint8Array): boolean {
    return this.frames.send(body);
  }

}

function replayToWire(replay: PtyReplay | undefined): number {
  switch (replay) {
    case 'ring': return pb.PtyReplayMode.PTY_REPLAY_MODE_RING;
    case 'screen': return pb.PtyReplayMode.PTY_REPLAY_MODE_SCREEN;
    default: return pb.PtyReplayMode.PTY_REPLAY_MODE_MISSED;
  }
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * SPAWN_PTY_SESSION: starts a child on a new PTY; INVALID_ARGUMENT names a bad argv, cwd or size;
     * COMMAND_NOT_FOUND / COMMAND_NOT_EXECUTABLE when the program cannot start (127 / 126).
     */
    spawnPty(opts: SpawnPtyOptions): Promise<ResponseOutput<'spawnPtySession'>>;
    /**
     * SPAWN_PTY_SESSION with `attach`: starts the child and attaches to it in one round trip, on a
     * streaming connection (like `tmux new-session` without -d); nothing the child prints is missed.
     */
    spawnPtyAttached(opts: SpawnPtyOptions, attach?: AttachPtyOptions): Promise<ResponseOutput<'spawnPtySession'> & { attachment: PtyAttachment }>;
    /** ATTACH_PTY_SESSION on a new connection; ALREADY_ATTACHED unless `steal`. */
    attachPty(sessionId: string, opts?: AttachPtyOptions): Promise<PtyAttachment>;
    /** DETACH_PTY_SESSION: the attached client gets a `detached` frame; the session keeps running. */
    detachPty(sessionId: string): Promise<void>;
    /** LIST_PTY_SESSIONS, optionally only one originator's (exact match). */
    listPtys(originator?: string): Promise<PtySessionInfo[]>;
    /**
     * TERMINATE_PTY_SESSION: SIGHUP+SIGTERM, SIGKILL to the tree after graceMs (0 = 2000); or only
     * `signal` to the leader and its group and session. Answers at once (see terminate()).
     */
    terminatePty(sessionId: string, graceMs?: number, opts?: { signal?: string }): Promise<ResponseOutput<'terminatePtySession'>>;
    /** RESIZE_PTY_SESSION without attaching; 0 keeps a dimension. */
    resizePty(sessionId: string, rows: number, cols: number): Promise<void>;
  }
}

function spawnPayload(opts: SpawnPtyOptions): RequestInput<'spawnPtySession'> {
  return {
    argv: opts.argv,
    ...spawnContextPayload(opts, PTY_OWN_KEYS),
    rows: opts.rows ?? 0,
    cols: opts.cols ?? 0,
    originator: opts.originator ?? '',
  };
}

function attachPayload(sessionId: string, opts: AttachPtyOptions): RequestInput<'attachPtySession'> {
  return {
    sessionId,
    rows: opts.rows ?? 0,
    cols: opts.cols ?? 0,
    steal: opts.steal ?? false,
    term: opts.term ?? '',
    isTty: opts.isTty ?? false,
    graphicsCapabilities: opts.graphicsCapabilities ?? null,
    replay: replayToWire(opts.replay),
    // A detach ends the stream with the explicit `detached` frame (v1 clients get error "detached").
    detachedFrame: true,
    ...attachFlowPayload(opts),
    outputWindowBytes: opts.outputWindowBytes ?? 0,
  };
}

DaemonClient.prototype.spawnPty = function (this: DaemonClient, opts: SpawnPtyOptions) {
  return this.request(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', spawnPayload(opts));
};

DaemonClient.prototype.spawnPtyAttached = async function (this: DaemonClient, opts: SpawnPtyOptions, attach: AttachPtyOptions = {}) {
  const opened = await this.openStream(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', {
    ...spawnPayload(opts),
    attach: attachPayload('', attach),
  });
  const attached = await attachResponseOf(opened, 'attachPtySession', async (id) => { await this.terminatePty(id); });
  return { ...opened.response, attachment: new PtyAttachment(attached, opened.frames) };
};

DaemonClient.prototype.attachPty = async function (this: DaemonClient, sessionId: string, opts: AttachPtyOptions = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION, 'attachPtySession', attachPayload(sessionId, opts));
  return new PtyAttachment(response, frames);
};

DaemonClient.prototype.detachPty = async function (this: DaemonClient, sessionId: string) {
  await this.request(RequestType.REQUEST_TYPE_DETACH_PTY_SESSION, 'detachPtySession', { sessionId });
};

DaemonClient.prototype.listPtys = async function (this: DaemonClient, originator = '') {
  const r = await this.request(RequestType.REQUEST_TYPE_LIST_PTY_SESSIONS, 'listPtySessions', { originator });
  // Plain objects with every field (see listPipes).
  return r.sessions.map((row) => {
    const plain = pb.PtySessionInfo.toObject(row as running_process.daemon.v1.PtySessionInfo, { defaults: true, longs: Number });
    return { ...plain, ...sessionExitOf(row.exited === true, row.exitCode ?? 0) } as unknown as PtySessionInfo;
  });
};

DaemonClient.prototype.terminatePty = function (this: DaemonClient, sessionId: string, graceMs = 0, opts: { signal?: string } = {}) {
  return this.request(RequestType.REQUEST_TYPE_TERMINATE_PTY_SESSION, 'terminatePtySession', { sessionId, graceMs, signal: opts.signal ?? '' });
};

DaemonClient.prototype.resizePty = async function (this: DaemonClient, sessionId: string, rows: number, cols: number) {
  await this.request(RequestType.REQUEST_TYPE_RESIZE_PTY_SESSION, 'resizePtySession', { sessionId, rows, cols });
};
