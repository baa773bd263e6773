// RegisterSessionTee, UnregisterSessionTee, GetSessionTeeStatus (request types 75–77): copy a
// session stream into a file the daemon opens. Validation names every bad value; the tees
// themselves live in the TeeRegistry (state.tees) and end with their stream.
import { RequestType, pb } from '../../wire/proto';
import { InvalidArgumentError, NotFoundError } from '../../wire/errors';
import { unary, type DispatchEntry, type HandlerContext } from '../dispatch';
import type { Session } from '../../sessions/session-table';
import type { StreamTap } from '../../sessions/tap-set';
import type { DaemonState } from '../state';
import { FileTee } from '../../tee/file-tee';
import { openFileSink, TeeOpenError } from '../../tee/file-sink';
import { DEFAULT_QUEUE_BYTES } from '../../tee/tee-queue';
import { TeeRegistry } from '../../tee/tee-registry';
import {
  STREAMS, STREAMS_OF_KIND, enumLabel, sessionKindName, streamName,
  type TeeSessionKindName, type TeeStreamName,
} from '../../tee/tee-kinds';

/** Sessions that can tee the bytes written to their child's stdin (pipe sessions; PTY when it offers it). */
interface StdinTappable {
  addStdinTap(tap: StreamTap): void;
  removeStdinTap(tap: StreamTap): void;
}

/** Output stream name in Session.streams for a tee stream (PTY output is "output"). */
const OUTPUT_STREAM_KEY: Partial<Record<TeeStreamName, string>> = { 'pty-output': 'output', stdout: 'stdout', stderr: 'stderr' };

function teesOf(state: DaemonState): TeeRegistry {
  if (!state.tees) throw new Error('tee registry not started');
  return state.tees;
}

/** The session id and kind a request names, checked without looking anything up (INVALID_ARGUMENT). */
function checkSessionRef(sessionId: string, sessionKind: number): TeeSessionKindName {
  if (sessionId === '') throw new InvalidArgumentError('session_id is required');
  const kind = sessionKindName(sessionKind);
  if (!kind) {
    throw new InvalidArgumentError(`session_kind must be TEE_SESSION_KIND_PTY or TEE_SESSION_KIND_PIPE, got ${enumLabel(pb.TeeSessionKind, sessionKind)}`);
  }
  return kind;
}

/** The session a checked reference names: NOT_FOUND, and its kind must match. */
function lookupSession(ctx: HandlerContext, sessionId: string, kind: TeeSessionKindName): { session: Session; kind: TeeSessionKindName } {
  const session = ctx.state.sessions?.find(sessionId);
  if (!session) throw new NotFoundError(`no session with id ${JSON.stringify(sessionId)}`);
  if (session.kind !== kind) {
    throw new InvalidArgumentError(`session ${sessionId} is a ${session.kind.toUpperCase()} session, but session_kind says ${kind.toUpperCase()}`);
  }
  return { session, kind };
}

/** A tee reference (session id, kind, handle), checked before any lookup; handles start at 1. */
function checkTeeRef(sessionId: string, sessionKind: number, teeHandle: number): TeeSessionKindName {
  const kind = checkSessionRef(sessionId, sessionKind);
  if (teeHandle === 0) throw new InvalidArgumentError('tee_handle is required (handles start at 1)');
  return kind;
}

/** Connects a tee to the session's stream; returns how to disconnect it again. */
function attachTee(session: Session, stream: TeeStreamName, tee: FileTee, key: object): () => void {
  if (stream === 'stdin') {
    const s = session as unknown as Partial<StdinTappable>;
    if (typeof s.addStdinTap !== 'function' || typeof s.removeStdinTap !== 'function') {
      throw new InvalidArgumentError(`session ${session.id} does not offer a STDIN tee yet`);
    }
    s.addStdinTap(tee);
    return () => s.removeStdinTap!(tee);
  }
  const out = session.streams.get(OUTPUT_STREAM_KEY[stream]!);
  if (!out) throw new InvalidArgumentError(`session ${session.id} has no separate ${stream} stream (stderr is merged into stdout)`);
  out.addTap(tee);
  return () => {
    out.removeTap(tee);
    out.resumeSource(key);
  };
}

/** Flow control for a BLOCK tee on an output stream; STDIN tees never pause (the writer waits on the pipe). */
function flowFor(session: Session, stream: TeeStreamName, key: object) {
  const out = stream === 'stdin' ? undefined : session.streams.get(OUTPUT_STREAM_KEY[stream]!);
  return out ? { pause: () => out.pauseSource(key), resume: () => out.resumeSource(key) } : undefined;
}

export const teeEntries: DispatchEntry[] = [
  // Every field is checked before the session is looked up: a malformed request is
  // INVALID_ARGUMENT whether or not its session exists (the reference's order).
  unary(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE, 'registerSessionTee', async (req, ctx) => {
    const kind = checkSessionRef(req.sessionId, req.sessionKind);
    const stream = streamName(req.stream);
    if (!stream || !STREAMS_OF_KIND[kind].includes(stream)) {
      const allowed = STREAMS_OF_KIND[kind].map((s) => enumLabel(pb.TeeStreamKind, STREAMS[s])).join(', ');
      throw new InvalidArgumentError(`stream ${enumLabel(pb.TeeStreamKind, req.stream)} is not valid for a ${kind.toUpperCase()} session; use one of ${allowed}`);
    }
    if (req.sinkKind !== pb.TeeSinkKind.TEE_SINK_KIND_FILE) {
      throw new InvalidArgumentError(`only file sinks are supported (TEE_SINK_KIND_FILE), got sink_kind ${enumLabel(pb.TeeSinkKind, req.sinkKind)}`);
    }
    if (req.filePath.length === 0) throw new InvalidArgumentError('file_path must not be empty');
    if (req.fileMode !== pb.TeeFileMode.TEE_FILE_MODE_APPEND && req.fileMode !== pb.TeeFileMode.TEE_FILE_MODE_TRUNCATE) {
      throw new InvalidArgumentError(`file_mode must be TEE_FILE_MODE_APPEND or TEE_FILE_MODE_TRUNCATE, got ${enumLabel(pb.TeeFileMode, req.fileMode)}`);
    }
    if (req.backpressure !== pb.TeeBackpressure.TEE_BACKPRESSURE_DROP_OLDEST && req.backpressure !== pb.TeeBackpressure.TEE_BACKPRESSURE_BLOCK) {
      throw new InvalidArgumentError(`backpressure must be TEE_BACKPRESSURE_DROP_OLDEST or TEE_BACKPRESSURE_BLOCK, got ${enumLabel(pb.TeeBackpressure, req.backpressure)}`);
    }
    const { session } = lookupSession(ctx, req.sessionId, kind);
    if (session.exit) throw new InvalidArgumentError(`session ${session.id} has exited; there is nothing left to tee`);
    if (stream !== 'stdin' && !session.streams.has(OUTPUT_STREAM_KEY[stream]!)) {
      throw new InvalidArgumentError(`session ${session.id} has no separate ${stream} stream (stderr is merged into stdout)`);
    }
    const registry = teesOf(ctx.state);
    let sink;
    try {
      sink = await openFileSink(Buffer.from(req.filePath), req.fileMode === pb.TeeFileMode.TEE_FILE_MODE_TRUNCATE ? 'truncate' : 'append', registry.writeDelayMs);
    } catch (err) {
      if (err instanceof TeeOpenError) throw new InvalidArgumentError(err.message);
      throw err;
    }
    // The pause key is this tee's own: other tees and sessions are never held by it.
    const key = {};
    const tee = new FileTee({
      sink,
      mode: req.backpressure === pb.TeeBackpressure.TEE_BACKPRESSURE_BLOCK ? 'block' : 'drop-oldest',
      capacityChunks: req.queueCapacity,
      capacityBytes: DEFAULT_QUEUE_BYTES,
      markers: !req.suppressMissedMarkers,
      flow: flowFor(session, stream, key),
      onDisconnect: (err) => ctx.state.log.warn(`tee on ${stream} of session ${session.id} disconnected: ${err.message}`),
    });
    let detach: () => void;
    try {
      detach = attachTee(session, stream, tee, key);
    } catch (err) {
      await tee.flushAndClose();
      throw err;
    }
    return { teeHandle: registry.add(session, stream, tee, detach) };
  }),

  unary(RequestType.REQUEST_TYPE_UNREGISTER_SESSION_TEE, 'unregisterSessionTee', async (req, ctx) => {
    const { session } = lookupSession(ctx, req.sessionId, checkTeeRef(req.sessionId, req.sessionKind, req.teeHandle));
    if (!(await teesOf(ctx.state).remove(session, req.teeHandle))) {
      throw new NotFoundError(`session ${session.id} has no tee with handle ${req.teeHandle}`);
    }
    return {};
  }),

  unary(RequestType.REQUEST_TYPE_GET_SESSION_TEE_STATUS, 'getSessionTeeStatus', (req, ctx) => {
    const { session } = lookupSession(ctx, req.sessionId, checkTeeRef(req.sessionId, req.sessionKind, req.teeHandle));
    const entry = teesOf(ctx.state).get(session, req.teeHandle);
    if (!entry) throw new NotFoundError(`session ${session.id} has no tee with handle ${req.teeHandle}`);
    const st = entry.tee.status();
    return { stream: STREAMS[entry.stream], missedBytes: st.missedBytes, disconnected: st.disconnected };
  }),
];

