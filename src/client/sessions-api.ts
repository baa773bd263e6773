// Client methods for pipe sessions (requests 65–70) and the session-generic requests 71–73,
// installed on DaemonClient by declaration merging. PipeAttachment wraps one attach stream.
import { DaemonClient } from './daemon-client';
import type { FrameStream } from './stream';
import { AttachedStream, attachFlowPayload, type AttachFlowOptions } from './attached-stream';
import { bytesFieldWithOffset } from '../wire/frame';
import { RequestType, pb, type running_process } from '../wire/proto';
import type { Decoded, RequestInput, ResponseOutput } from '../wire/payload';
import { attachResponseOf } from './spawn-attached';
import { spawnContextPayload, type SpawnContextOptions } from './spawn-context';
import { sessionExitOf, type SessionExit } from './exit-status';

export type PipeStreamName = 'stdout' | 'stderr';

/** One decoded PipeStreamFrame. Exactly one of eof/exit/error/stolen ends the attachment. */
export type PipeFrame =
  /** offset: absolute offset of data[0], on attaches with fromOffset. */
  | { kind: 'bytes'; data: Buffer; offset?: number }
  /** The daemon dropped `bytes` this reader never got (offset: where the bytes after the gap start). */
  | { kind: 'missed'; bytes: number; offset?: number }
  | { kind: 'eof' }
  | { kind: 'exit'; code: number }
  | { kind: 'error'; message: string }
  | { kind: 'stolen'; by: string }
  /** DETACH_PIPE_STREAM ended this attachment: the session keeps running. */
  | { kind: 'detached' };

/**
 * A pipe session to start. Like a child of this process by default: `cwd` is this process's and
 * the environment is this process's (environmentPolicy `caller`), `env` applied on top.
 */
export interface SpawnPipeOptions extends SpawnContextOptions {
  /** Program and arguments; argv[0] is looked up on the child's PATH from its cwd, like a shell. */
  argv: string[];
  originator?: string;
  mergeStderr?: boolean;
  /** Keep the child's output unread until the first attach of each stream (nothing dropped before it). */
  holdOutputUntilAttached?: boolean;
}

/** PipeStreamFrame.bytes: field 1, length-delimited. */
const PIPE_FRAME_BYTES_TAG = (1 << 3) | 2;

/**
 * One row of listPipes(): every field set (decoded defaults), the exit status as everywhere else
 * (exitCode 128 + n and `signal` when a signal killed it; 0 and null while it runs).
 */
export type PipeSessionInfo = Omit<Decoded<running_process.daemon.v1.PipeSessionInfo>, 'exitCode' | 'toJSON'> & SessionExit;

/**
 * Decodes one PipeStreamFrame body. A bytes frame (nearly all of them) is read by hand and its data
 * is a view of the body, not a copy: the hot path of an attached reader.
 */
export function decodePipeFrame(body: Buffer): PipeFrame {
  const fast = bytesFieldWithOffset(body, PIPE_FRAME_BYTES_TAG);
  if (fast) return fast.offset === null ? { kind: 'bytes', data: fast.data } : { kind: 'bytes', data: fast.data, offset: fast.offset };
  const f = pb.PipeStreamFrame.decode(body);
  const offset = Object.prototype.hasOwnProperty.call(f, 'offset') ? { offset: Number(f.offset) } : {};
  switch (f.frame) {
    case 'bytes': return { kind: 'bytes', data: Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.length), ...offset };
    case 'missedBytes': return { kind: 'missed', bytes: Number(f.missedBytes), ...offset };
    case 'eof': return { kind: 'eof' };
    case 'exitCode': return { kind: 'exit', code: f.exitCode };
    case 'error': return { kind: 'error', message: f.error };
    case 'stolenBy': return { kind: 'stolen', by: f.stolenBy };
    case 'detached': return { kind: 'detached' };
    default: return { kind: 'error', message: 'empty frame from runpmd' };
  }
}

/**
 * An attached stdout/stderr stream: the backlog from the attach response, then live frames as an
 * async iterator. Iteration ends after the terminal frame (the daemon closes the connection);
 * `close()` or breaking out of a `for await` closes it early (the session keeps running).
 */
export class PipeAttachment extends AttachedStream<PipeFrame> {
  constructor(response: ResponseOutput<'attachPipeStream'>, frames: FrameStream) {
    super(response, frames);
  }

  protected decode(body: Buffer): PipeFrame {
    const f = decodePipeFrame(body);
    if (f.kind === 'bytes') this.track(f.data.length, 0, f.offset);
    else if (f.kind === 'missed') this.track(0, f.bytes, f.offset);
    return f;
  }
}

function streamKind(name: PipeStreamName | undefined): number {
  return name === 'stderr' ? pb.PipeStreamKind.PIPE_STREAM_KIND_STDERR : pb.PipeStreamKind.PIPE_STREAM_KIND_STDOUT;
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * SPAWN_PIPE_SESSION: starts a detached child with piped stdio. A program that cannot start
     * rejects with COMMAND_NOT_FOUND / COMMAND_NOT_EXECUTABLE (startFailureExitCode: 127 / 126).
     */
    spawnPipe(opts: SpawnPipeOptions): Promise<ResponseOutput<'spawnPipeSession'>>;
    /**
     * SPAWN_PIPE_SESSION with `attach`: starts the child and attaches to one of its streams (stdout by
     * default) in one round trip, on a streaming connection; nothing the child prints is missed.
     */
    spawnPipeAttached(opts: SpawnPipeOptions, attach?: { stream?: PipeStreamName } & AttachFlowOptions): Promise<ResponseOutput<'spawnPipeSession'> & { attachment: PipeAttachment }>;
    /**
     * ATTACH_PIPE_STREAM on a new connection; ALREADY_ATTACHED unless `steal`. Lossless by default
     * (the child waits for this reader); `fromOffset` resumes at an absolute offset (see AttachFlowOptions).
     */
    attachPipe(sessionId: string, opts?: { stream?: PipeStreamName; steal?: boolean } & AttachFlowOptions): Promise<PipeAttachment>;
    /** DETACH_PIPE_STREAM: the attached client gets a `detached` frame (v1 clients: eof); the session keeps running. */
    detachPipe(sessionId: string, stream?: PipeStreamName): Promise<void>;
    /** WRITE_PIPE_STDIN: resolves with bytes written once the child's pipe took them; `close` closes stdin after. */
    writeStdin(sessionId: string, data: Uint8Array | string, opts?: { close?: boolean }): Promise<number>;
    /**
     * TERMINATE_PIPE_SESSION: SIGTERM to the group, SIGKILL after graceMs (0 = 2000); or only `signal`
     * ("INT", "HUP", ...; "KILL" kills the tree) to the leader and its group and session. Answers at
     * once; `processesSignalled` 0 means the session had exited and left nothing running.
     */
    terminate(sessionId: string, graceMs?: number, opts?: { signal?: string }): Promise<ResponseOutput<'terminatePipeSession'>>;
    /** LIST_PIPE_SESSIONS, optionally only one originator's (exact match). */
    listPipes(originator?: string): Promise<PipeSessionInfo[]>;
    /** GET_SESSION_BACKLOG (pipe or PTY): what an attach would replay now, consuming nothing. */
    backlog(sessionId: string, opts?: { stream?: PipeStreamName }): Promise<ResponseOutput<'getSessionBacklog'>>;
    /** PURGE_EXITED_SESSIONS: removes exited sessions (originator filter); counts by kind. */
    purge(originator?: string): Promise<ResponseOutput<'purgeExitedSessions'>>;
    /** BULK_TERMINATE_SESSIONS: terminates sessions older than olderThanSecs (strictly; 0 = all). */
    bulkTerminate(opts?: { olderThanSecs?: number; originator?: string; graceMs?: number }): Promise<ResponseOutput<'bulkTerminateSessions'>>;
  }
}

function spawnPipePayload(opts: SpawnPipeOptions): RequestInput<'spawnPipeSession'> {
  return {
    argv: opts.argv,
    ...spawnContextPayload(opts),
    originator: opts.originator ?? '',
    mergeStderrIntoStdout: opts.mergeStderr ?? false,
    holdOutputUntilAttached: opts.holdOutputUntilAttached ?? false,
  };
}

DaemonClient.prototype.spawnPipe = function (this: DaemonClient, opts: SpawnPipeOptions) {
  return this.request(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', spawnPipePayload(opts));
};

DaemonClient.prototype.spawnPipeAttached = async function (this: DaemonClient, opts: SpawnPipeOptions, attach: { stream?: PipeStreamName } & AttachFlowOptions = {}) {
  const opened = await this.openStream(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', {
    ...spawnPipePayload(opts),
    attach: { stream: streamKind(attach.stream), detachedFrame: true, ...attachFlowPayload(attach) },
  });
  const attached = await attachResponseOf(opened, 'attachPipeStream', async (id) => { await this.terminate(id); });
  return { ...opened.response, attachment: new PipeAttachment(attached, opened.frames) };
};

DaemonClient.prototype.attachPipe = async function (this: DaemonClient, sessionId: string, opts: { stream?: PipeStreamName; steal?: boolean } & AttachFlowOptions = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream',
    { sessionId, stream: streamKind(opts.stream), steal: opts.steal ?? false, detachedFrame: true, ...attachFlowPayload(opts) });
  return new PipeAttachment(response, frames);
};

DaemonClient.prototype.detachPipe = async function (this: DaemonClient, sessionId: string, stream?: PipeStreamName) {
  await this.request(RequestType.REQUEST_TYPE_DETACH_PIPE_STREAM, 'detachPipeStream', { sessionId, stream: streamKind(stream) });
};

DaemonClient.prototype.writeStdin = async function (this: DaemonClient, sessionId: string, data: Uint8Array | string, opts: { close?: boolean } = {}) {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const r = await this.request(RequestType.REQUEST_TYPE_WRITE_PIPE_STDIN, 'writePipeStdin',
    { sessionId, data: bytes, close: opts.close ?? false }, { timeoutMs: 0 });
  return Number(r.bytesWritten);
};

DaemonClient.prototype.terminate = function (this: DaemonClient, sessionId: string, graceMs = 0, opts: { signal?: string } = {}) {
  return this.request(RequestType.REQUEST_TYPE_TERMINATE_PIPE_SESSION, 'terminatePipeSession', { sessionId, graceMs, signal: opts.signal ?? '' });
};

DaemonClient.prototype.listPipes = async function (this: DaemonClient, originator = '') {
  const r = await this.request(RequestType.REQUEST_TYPE_LIST_PIPE_SESSIONS, 'listPipeSessions', { originator });
  // Plain objects with every field: a decoded message keeps its defaults on the prototype, which
  // a spread or JSON.stringify would lose (exit code 0 printed as undefined).
  return r.sessions.map((row) => {
    const plain = pb.PipeSessionInfo.toObject(row as running_process.daemon.v1.PipeSessionInfo, { defaults: true, longs: Number });
    return { ...plain, ...sessionExitOf(row.exited === true, row.exitCode ?? 0) } as unknown as PipeSessionInfo;
  });
};

DaemonClient.prototype.backlog = function (this: DaemonClient, sessionId: string, opts: { stream?: PipeStreamName } = {}) {
  return this.request(RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, 'getSessionBacklog', { sessionId, pipeStream: streamKind(opts.stream) });
};

DaemonClient.prototype.purge = function (this: DaemonClient, originator = '') {
  return this.request(RequestType.REQUEST_TYPE_PURGE_EXITED_SESSIONS, 'purgeExitedSessions', { originator });
};

DaemonClient.prototype.bulkTerminate = function (this: DaemonClient, opts: { olderThanSecs?: number; originator?: string; graceMs?: number } = {}) {
  return this.request(RequestType.REQUEST_TYPE_BULK_TERMINATE_SESSIONS, 'bulkTerminateSessions',
    { olderThanSecs: opts.olderThanSecs ?? 0, originator: opts.originator ?? '', graceMs: opts.graceMs ?? 0 });
};
