// Pipe-session requests 65–70: spawn, attach/detach a stream, list, terminate, write stdin.
// Sessions live in state.sessions; this file only translates between protobuf and the session.
import { randomUUID } from 'node:crypto';
import { RequestType, pb } from '../../wire/proto';
import { InvalidArgumentError } from '../../wire/errors';
import { stream, unary, type DispatchEntry, type RequestPayload, type ResponsePayload, type StreamChannel } from '../dispatch';
import type { DaemonState } from '../state';
import type { AttachFrameCodec } from '../../sessions/output-stream';
import { PipeSession, spawnPipeSession, type PipeStreamName } from '../../sessions/pipe-session';
import { planArgvSpawn } from '../../sessions/spawn-plan';
import { SocketSink } from '../socket-sink';
import { attachFlowOf, checkSpawnAttachSessionId, outcomeToWire, sessionsOf, terminateSession, terminateSignalOf, type AttachFlowFields } from './session-ops';

type PipeSessionInfoOut = NonNullable<ResponsePayload<'listPipeSessions'>['sessions']>[number];

/** PipeStreamFrame bodies for OutputStream attachments. */
export const pipeFrameCodec: AttachFrameCodec = {
  bytes: (buf) => pb.PipeStreamFrame.encode({ bytes: buf }).finish(),
  bytesField: 1,
  missed: (n, offset) => pb.PipeStreamFrame.encode(offset === undefined ? { missedBytes: n } : { missedBytes: n, offset }).finish(),
  eof: () => pb.PipeStreamFrame.encode({ eof: true }).finish(),
  exitCode: (code) => pb.PipeStreamFrame.encode({ exitCode: code }).finish(),
  error: (message) => pb.PipeStreamFrame.encode({ error: message }).finish(),
  stolenBy: (label) => pb.PipeStreamFrame.encode({ stolenBy: label }).finish(),
  // v1 and reference clients know a detach as eof (what the reference sends).
  detached: (explicit) => pb.PipeStreamFrame.encode(explicit ? { detached: true } : { eof: true }).finish(),
};

function pipeSession(state: DaemonState, id: string): PipeSession {
  if (id === '') throw new InvalidArgumentError('session_id is required');
  return sessionsOf(state).get(id, 'pipe') as PipeSession;
}

function streamName(kind: number, field = 'stream'): PipeStreamName {
  if (kind === pb.PipeStreamKind.PIPE_STREAM_KIND_STDOUT) return 'stdout';
  if (kind === pb.PipeStreamKind.PIPE_STREAM_KIND_STDERR) return 'stderr';
  throw new InvalidArgumentError(`${field} must be STDOUT or STDERR, got ${pb.PipeStreamKind[kind] ?? kind}`);
}

/** One PipeSessionInfo, every field filled from the session. */
export function pipeInfo(s: PipeSession): PipeSessionInfoOut {
  return {
    sessionId: s.id,
    pid: s.pid,
    command: s.command,
    cwd: s.cwd,
    originator: s.originator,
    createdAt: s.createdAtMs / 1000,
    stdoutAttached: s.streams.get('stdout')!.attachedBy !== null,
    stderrAttached: s.mergeStderr ? false : s.streams.get('stderr')!.attachedBy !== null,
    exited: s.exit !== null,
    exitCode: s.exit?.code ?? 0,
    exitedAt: s.exit ? s.exit.exitedAtMs / 1000 : 0,
    mergeStderrIntoStdout: s.mergeStderr,
    terminationOutcome: outcomeToWire(s.terminationOutcome),
    leftoverPids: s.leftoverPids(),
  };
}

type SpawnRequest = RequestPayload<'spawnPipeSession'>;

/** Spawns the request's child with pipes and adds it to the session table. */
async function spawnFromRequest(req: SpawnRequest, state: DaemonState): Promise<PipeSession> {
  const sessions = sessionsOf(state);
  const id = randomUUID();
  const plan = planArgvSpawn(req, {
    sessionId: id, sessionScope: state.config.paths.scopeHash, daemonCwd: state.cwd, defaults: state.config.defaultEnv,
  });
  const session = await spawnPipeSession({
    id,
    ...plan,
    originator: req.originator,
    mergeStderr: req.mergeStderrIntoStdout,
    holdOutput: req.holdOutputUntilAttached,
    ringBytes: state.config.ringBytes,
    codec: pipeFrameCodec,
  });
  sessions.add(session);
  state.log.info(`pipe session ${id} started: pid ${session.pid}, ${JSON.stringify(session.command)}${req.originator ? ` (originator ${req.originator})` : ''}`);
  return session;
}

/** Attaches a client to one stream of a session: the attach response, and what streams after it. */
function attachStream(state: DaemonState, session: PipeSession, name: PipeStreamName, clientLabel: string, req: AttachFlowFields & { steal: boolean; detachedFrame: boolean }, prefix = '') {
  const grant = session.stream(name).attach(clientLabel, { steal: req.steal, ...attachFlowOf(state, req, prefix) });
  grant.attachment.explicitDetach = req.detachedFrame;
  return {
    response: {
      backlog: grant.backlog, backlogTruncated: grant.backlogTruncated, bytesMissed: grant.bytesMissed,
      startOffset: grant.startOffset, endOffset: grant.endOffset,
    },
    start: (channel: StreamChannel) => grant.attachment.start(new SocketSink(channel)),
  };
}

export const pipeSessionEntries: DispatchEntry[] = [
  // A stream entry that streams only when the request asks to spawn attached (field attach).
  stream(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', async (req, ctx) => {
    let attachTo: PipeStreamName | null = null;
    if (req.attach) {
      checkSpawnAttachSessionId(req.attach.sessionId ?? '');
      attachTo = streamName(req.attach.stream ?? 0, 'attach.stream');
      // Checked before anything is spawned: a refused attach must not leave a child nobody knows of.
      attachFlowOf(ctx.state, { fromOffset: req.attach.fromOffset, flow: req.attach.flow ?? 0, stallTimeoutMs: req.attach.stallTimeoutMs ?? 0 }, 'attach.');
      if (attachTo === 'stderr' && req.mergeStderrIntoStdout) {
        throw new InvalidArgumentError('attach.stream is STDERR but merge_stderr_into_stdout sends stderr to stdout: attach STDOUT');
      }
    }
    const session = await spawnFromRequest(req, ctx.state);
    const response = { sessionId: session.id, pid: session.pid, createdAt: session.createdAtMs / 1000 };
    if (!attachTo) return { response };
    const a = req.attach!;
    const grant = attachStream(ctx.state, session, attachTo, ctx.clientLabel, {
      steal: false, detachedFrame: a.detachedFrame ?? false, fromOffset: a.fromOffset, flow: a.flow ?? 0, stallTimeoutMs: a.stallTimeoutMs ?? 0,
    }, 'attach.');
    return { response, alsoRespond: { attachPipeStream: grant.response }, start: grant.start };
  }),

  // The stream selector is checked before the session is looked up (the reference's order).
  stream(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream', (req, ctx) => {
    const name = streamName(req.stream);
    return attachStream(ctx.state, pipeSession(ctx.state, req.sessionId), name, ctx.clientLabel, req);
  }, { errorCarriesPayload: true }),

  unary(RequestType.REQUEST_TYPE_DETACH_PIPE_STREAM, 'detachPipeStream', (req, { state }) => {
    const name = streamName(req.stream);
    pipeSession(state, req.sessionId).stream(name).detach();
    return {};
  }),

  unary(RequestType.REQUEST_TYPE_LIST_PIPE_SESSIONS, 'listPipeSessions', (req, { state }) => ({
    sessions: sessionsOf(state).list({ kind: 'pipe', originator: req.originator }).map((s) => pipeInfo(s as PipeSession)),
  })),

  // Answers at once: the SIGKILL after the grace runs on a timer.
  unary(RequestType.REQUEST_TYPE_TERMINATE_PIPE_SESSION, 'terminatePipeSession', (req, { state }) => {
    const sig = terminateSignalOf(req.signal);
    return terminateSession(pipeSession(state, req.sessionId), req.graceMs, sig);
  }),

  unary(RequestType.REQUEST_TYPE_WRITE_PIPE_STDIN, 'writePipeStdin', async (req, { state }) => {
    const session = pipeSession(state, req.sessionId);
    const n = await session.writeStdin(Buffer.from(req.data), req.close);
    return { bytesWritten: n };
  }),
];
