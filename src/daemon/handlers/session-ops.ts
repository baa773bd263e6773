// Requests 71–73, generic over pipe and PTY sessions: backlog snapshot, purge exited, bulk
// terminate. They work on state.sessions and the streams every Session exposes.
import { RequestType, pb } from '../../wire/proto';
import { InvalidArgumentError, UnavailableError } from '../../wire/errors';
import { unary, type DispatchEntry } from '../dispatch';
import type { TerminationOutcome } from '../../sessions/termination';
import type { Session } from '../../sessions/session-table';
import { parseSignal } from '../../sessions/signal-names';
import type { DaemonState } from '../state';
import type { SessionManager } from '../../sessions/session-table';
import type { AttachRequestOptions, FlowMode } from '../../sessions/output-stream';
import { MAX_BACKLOG_READ_BYTES } from '../../sessions/output-stream';

/** The offset and flow fields of AttachPipeStreamRequest and AttachPtySessionRequest (issue 15). */
export interface AttachFlowFields {
  fromOffset?: number | null;
  flow: number;
  stallTimeoutMs: number;
}

function flowModeOf(value: number, field: string): FlowMode {
  switch (value) {
    case pb.AttachFlowMode.ATTACH_FLOW_MODE_LOSSLESS: return 'lossless';
    case pb.AttachFlowMode.ATTACH_FLOW_MODE_LIVE: return 'live';
    default: throw new InvalidArgumentError(`${field} must be LOSSLESS or LIVE, got ${value}`);
  }
}

/** An attach request's from_offset, flow and stall timeout as OutputStream.attach() takes them (checked). */
export function attachFlowOf(state: DaemonState, req: AttachFlowFields, prefix = ''): Pick<AttachRequestOptions, 'fromOffset' | 'flow' | 'stallTimeoutMs'> {
  const flow = flowModeOf(req.flow, `${prefix}flow`);
  const stallTimeoutMs = req.stallTimeoutMs || state.config.attachStallTimeoutMs;
  // Unset (null) keeps the v1 backlog semantics; a set 0 means "from the oldest byte held".
  const fromOffset = req.fromOffset === null || req.fromOffset === undefined ? undefined : Number(req.fromOffset);
  return { fromOffset, flow, stallTimeoutMs };
}

/** Maps the session's outcome onto the wire enum (UNSPECIFIED while live). */
export function outcomeToWire(outcome: TerminationOutcome | null): number {
  switch (outcome) {
    case 'NATURAL_EXIT': return pb.TerminationOutcome.TERMINATION_OUTCOME_NATURAL_EXIT;
    case 'SOFT_EXIT': return pb.TerminationOutcome.TERMINATION_OUTCOME_SOFT_EXIT;
    case 'HARD_KILLED': return pb.TerminationOutcome.TERMINATION_OUTCOME_HARD_KILLED;
    default: return pb.TerminationOutcome.TERMINATION_OUTCOME_UNSPECIFIED;
  }
}

/** A terminate request's signal, checked before the session is looked up: null = the SIGTERM schedule. */
export function terminateSignalOf(signal: string): NodeJS.Signals | null {
  return signal === '' ? null : parseSignal(signal);
}

/**
 * TERMINATE_PIPE_SESSION / TERMINATE_PTY_SESSION: the schedule (or the one signal) and what it
 * reached. A session that exited and left nothing running answers OK with processes_signalled 0
 * (idempotent, as the reference answers); clients that care (runpm kill) report that.
 */
export function terminateSession(session: Session, graceMs: number, sig: NodeJS.Signals | null) {
  const alreadyExited = session.exit !== null;
  const processesSignalled = sig === null ? session.terminate(graceMs) : session.signal(sig);
  return { processesSignalled, alreadyExited, exitCode: session.exit?.code ?? 0 };
}

/** A spawn's attach field names no session: it attaches to the one being spawned (PTY and pipe alike). */
export function checkSpawnAttachSessionId(sessionId: string): void {
  if (sessionId !== '') throw new InvalidArgumentError('attach.session_id must be empty: a spawn attaches to the session it starts');
}

/** The table, or UNAVAILABLE while the daemon has none (starting or shutting down). */
export function sessionsOf(state: DaemonState): SessionManager {
  if (!state.sessions || state.shuttingDown) throw new UnavailableError('sessions are not available (daemon starting or shutting down)');
  return state.sessions;
}

// PTY sessions have one output stream; pipe sessions pick stdout (default) or stderr.
function backlogStreamName(session: Session, pipeStream: number): string {
  if (session.kind === 'pty') return 'output';
  switch (pipeStream) {
    case pb.PipeStreamKind.PIPE_STREAM_KIND_UNSPECIFIED:
    case pb.PipeStreamKind.PIPE_STREAM_KIND_STDOUT:
      return 'stdout';
    case pb.PipeStreamKind.PIPE_STREAM_KIND_STDERR:
      if (!session.streams.has('stderr')) {
        throw new InvalidArgumentError(`session ${session.id} merges stderr into stdout: it has no separate stderr stream`);
      }
      return 'stderr';
    default:
      throw new InvalidArgumentError(`pipe_stream must be STDOUT or STDERR, got ${pipeStream}`);
  }
}

export const sessionOpEntries: DispatchEntry[] = [
  // Never consumes: a later attach still gets the same backlog.
  unary(RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, 'getSessionBacklog', (req, { state }) => {
    if (req.sessionId === '') throw new InvalidArgumentError('session_id is required');
    const session = sessionsOf(state).get(req.sessionId);
    const out = session.streams.get(backlogStreamName(session, req.pipeStream));
    if (!out) throw new InvalidArgumentError(`session ${session.id} has no output stream`);
    const fromOffset = (req as { fromOffset?: number | null }).fromOffset;
    const common = {
      sessionKind: session.kind,
      exited: session.exit !== null,
      exitCode: session.exit?.code ?? 0,
      exitedAt: session.exit ? session.exit.exitedAtMs / 1000 : 0,
      terminationOutcome: outcomeToWire(session.terminationOutcome),
      leftoverPids: session.leftoverPids(),
      exitSignal: session.exit?.signal ?? '',
    };
    if (fromOffset === null || fromOffset === undefined) {
      // v1: what the last attached client missed (the bytes the kernel never took for it).
      const snap = out.peekBacklog();
      const end = out.ring.writeOffset;
      return {
        ...common, backlog: snap.backlog, bytesMissed: snap.bytesMissed,
        startOffset: end - snap.backlog.length, endOffset: end, droppedBytes: snap.bytesMissed,
        totalBytes: end, outputEnded: out.ended !== null,
      };
    }
    // By offset (issue 15.2): the answer fits one response; the caller reads on from end_offset.
    const max = req.maxBytes > 0 ? Math.min(req.maxBytes, MAX_BACKLOG_READ_BYTES) : MAX_BACKLOG_READ_BYTES;
    const r = out.readAt(Number(fromOffset), max);
    return {
      ...common, backlog: r.bytes, bytesMissed: r.droppedBytes,
      startOffset: r.startOffset, endOffset: r.endOffset, droppedBytes: r.droppedBytes,
      totalBytes: r.totalBytes, outputEnded: r.complete,
    };
  }),

  unary(RequestType.REQUEST_TYPE_PURGE_EXITED_SESSIONS, 'purgeExitedSessions', (req, { state }) => {
    const counts = sessionsOf(state).purgeExited(req.originator);
    return { ptyPurged: counts.pty, pipePurged: counts.pipe };
  }),

  unary(RequestType.REQUEST_TYPE_BULK_TERMINATE_SESSIONS, 'bulkTerminateSessions', (req, { state }) => {
    if (!Number.isSafeInteger(req.olderThanSecs) || req.olderThanSecs < 0) {
      throw new InvalidArgumentError(`older_than_secs must be a non-negative integer, got ${req.olderThanSecs}`);
    }
    const counts = sessionsOf(state).bulkTerminate({ olderThanSecs: req.olderThanSecs, originator: req.originator, graceMs: req.graceMs });
    return { ptyTerminated: counts.pty, pipeTerminated: counts.pipe };
  }),
];
