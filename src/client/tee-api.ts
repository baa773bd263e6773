// Client methods for session tees (request types 75–77): copy a session stream to a file the
// daemon opens and owns, remove it, and read its status. Installed on DaemonClient by index.ts.
import { DaemonClient, type CallOptions } from './daemon-client';
import { RequestType, pb } from '../wire/proto';
import { SESSION_KINDS, STREAMS, streamName, type TeeSessionKindName, type TeeStreamName } from '../tee/tee-kinds';

/** What to tee and how. */
export interface TeeOptions {
  sessionId: string;
  sessionKind: TeeSessionKindName;
  /** Default: 'stdout' for pipe sessions, 'pty-output' for PTY sessions. */
  stream?: TeeStreamName;
  /** File path, as given (resolve relative paths first: the daemon's cwd is not yours); a Buffer is sent as raw OS bytes. */
  filePath: string | Buffer;
  /** Truncate the file instead of appending. */
  truncate?: boolean;
  /** Queue capacity in chunks; 0 or absent → daemon default (1024). */
  queueCapacity?: number;
  /** Pause the session's reading of the stream when the queue is full instead of dropping the oldest chunk. */
  block?: boolean;
  /** Do not write `[running-process tee missed N bytes]` markers where bytes were dropped. */
  suppressMissedMarkers?: boolean;
}

/** GetSessionTeeStatus as the client reports it. */
export interface TeeStatus {
  stream: TeeStreamName | null;
  missedBytes: number;
  disconnected: boolean;
}

declare module './daemon-client' {
  interface DaemonClient {
    /** Starts copying a session stream to a file; resolves with the tee handle (per session, from 1). */
    registerSessionTee(opts: TeeOptions, call?: CallOptions): Promise<number>;
    /** Flushes and closes the tee's file; resolves once that is done. */
    unregisterSessionTee(sessionId: string, sessionKind: TeeSessionKindName, handle: number, call?: CallOptions): Promise<void>;
    /** The tee's stream, bytes it has missed so far, and whether its file failed. */
    getSessionTeeStatus(sessionId: string, sessionKind: TeeSessionKindName, handle: number, call?: CallOptions): Promise<TeeStatus>;
  }
}

DaemonClient.prototype.registerSessionTee = async function (this: DaemonClient, opts: TeeOptions, call?: CallOptions) {
  const stream = opts.stream ?? (opts.sessionKind === 'pty' ? 'pty-output' : 'stdout');
  const r = await this.request(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE, 'registerSessionTee', {
    sessionId: opts.sessionId,
    sessionKind: SESSION_KINDS[opts.sessionKind],
    stream: STREAMS[stream],
    sinkKind: pb.TeeSinkKind.TEE_SINK_KIND_FILE,
    filePath: typeof opts.filePath === 'string' ? Buffer.from(opts.filePath) : opts.filePath,
    fileMode: opts.truncate ? pb.TeeFileMode.TEE_FILE_MODE_TRUNCATE : pb.TeeFileMode.TEE_FILE_MODE_APPEND,
    queueCapacity: opts.queueCapacity ?? 0,
    suppressMissedMarkers: opts.suppressMissedMarkers ?? false,
    backpressure: opts.block ? pb.TeeBackpressure.TEE_BACKPRESSURE_BLOCK : pb.TeeBackpressure.TEE_BACKPRESSURE_DROP_OLDEST,
  }, call);
  return Number(r.teeHandle);
};

DaemonClient.prototype.unregisterSessionTee = async function (this: DaemonClient, sessionId: string, sessionKind: TeeSessionKindName, handle: number, call?: CallOptions) {
  await this.request(RequestType.REQUEST_TYPE_UNREGISTER_SESSION_TEE, 'unregisterSessionTee',
    { sessionId, sessionKind: SESSION_KINDS[sessionKind], teeHandle: handle }, call);
};

DaemonClient.prototype.getSessionTeeStatus = async function (this: DaemonClient, sessionId: string, sessionKind: TeeSessionKindName, handle: number, call?: CallOptions) {
  const r = await this.request(RequestType.REQUEST_TYPE_GET_SESSION_TEE_STATUS, 'getSessionTeeStatus',
    { sessionId, sessionKind: SESSION_KINDS[sessionKind], teeHandle: handle }, call);
  return { stream: streamName(r.stream), missedBytes: Number(r.missedBytes), disconnected: r.disconnected };
};
