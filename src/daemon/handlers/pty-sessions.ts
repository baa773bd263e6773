// PTY-session requests 60–64 and 74: spawn (optionally attached), attach (PtyStreamFrame out,
// PtyInputFrame in on the same socket), detach, list, terminate, resize. Sessions live in state.sessions; this file only
// translates between protobuf and the session. Requests 71–73 (session-ops.ts) cover PTYs too.
import { randomUUID } from 'node:crypto';
import { RequestType, pb, type running_process } from '../../wire/proto';
import { InvalidArgumentError } from '../../wire/errors';
import { stream, unary, type DispatchEntry, type HandlerContext, type RequestPayload, type ResponsePayload, type StreamChannel } from '../dispatch';
import type { DaemonState } from '../state';
import type { AttachFrameCodec, Attachment } from '../../sessions/output-stream';
import {
  DEFAULT_PTY_COLS, DEFAULT_PTY_ROWS, MAX_PTY_DIMENSION, PtySession, spawnPtySession, type PtyReplay,
} from '../../sessions/pty-session';
import { planArgvSpawn } from '../../sessions/spawn-plan';
import { SocketSink } from '../socket-sink';
import { OutputWindow } from '../../sessions/output-window';
import { attachFlowOf, checkSpawnAttachSessionId, outcomeToWire, sessionsOf, terminateSession, terminateSignalOf } from './session-ops';

type PtySessionInfoOut = NonNullable<ResponsePayload<'listPtySessions'>['sessions']>[number];

/** TERM for the child unless the request's env sets one. */
export const DEFAULT_PTY_TERM = 'xterm-256color';

/** PtyStreamFrame bodies for OutputStream attachments (a PTY has no separate eof: it ends with exit_code). */
export const ptyFrameCodec: AttachFrameCodec = {
  bytes: (buf) => pb.PtyStreamFrame.encode({ output: buf }).finish(),
  bytesField: 1,
  missed: (n, offset) => pb.PtyStreamFrame.encode(offset === undefined ? { missedBytes: n } : { missedBytes: n, offset }).finish(),
  eof: () => pb.PtyStreamFrame.encode({ error: 'output ended' }).finish(),
  exitCode: (code) => pb.PtyStreamFrame.encode({ exitCode: code }).finish(),
  error: (message) => pb.PtyStreamFrame.encode({ error: message }).finish(),
  stolenBy: (label) => pb.PtyStreamFrame.encode({ stolenBy: label }).finish(),
  // v1 and reference clients know a detach as error "detached" (what the reference sends).
  detached: (explicit) => pb.PtyStreamFrame.encode(explicit ? { detached: true } : { error: 'detached' }).finish(),
};

function ptySession(state: DaemonState, id: string): PtySession {
  if (id === '') throw new InvalidArgumentError('session_id is required');
  return sessionsOf(state).get(id, 'pty') as PtySession;
}

function checkDimension(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_PTY_DIMENSION) {
    throw new InvalidArgumentError(`${name} must be between 0 and ${MAX_PTY_DIMENSION}, got ${value}`);
  }
  return value;
}

function replayMode(value: number, name = 'replay'): PtyReplay {
  switch (value) {
    case pb.PtyReplayMode.PTY_REPLAY_MODE_MISSED: return 'missed';
    case pb.PtyReplayMode.PTY_REPLAY_MODE_RING: return 'ring';
    case pb.PtyReplayMode.PTY_REPLAY_MODE_SCREEN: return 'screen';
    default: throw new InvalidArgumentError(`${name} must be MISSED, RING or SCREEN, got ${value}`);
  }
}

/** One PtySessionInfo, every field filled from the session. */
export function ptyInfo(s: PtySession): PtySessionInfoOut {
  const attached = s.output.attachedBy !== null;
  const t = attached ? s.attachedTerminal : null;
  return {
    sessionId: s.id,
    pid: s.pid,
    command: s.command,
    cwd: s.cwd,
    originator: s.originator,
    createdAt: s.createdAtMs / 1000,
    attached,
    exited: s.exit !== null,
    exitCode: s.exit?.code ?? 0,
    exitedAt: s.exit ? s.exit.exitedAtMs / 1000 : 0,
    rows: s.rows,
    cols: s.cols,
    terminationOutcome: outcomeToWire(s.terminationOutcome),
    leftoverPids: s.leftoverPids(),
    attachedIsTty: t?.isTty ?? false,
    attachedTerm: t?.term ?? '',
    attachedGraphicsCapabilities: (t?.graphics as running_process.daemon.v1.ITerminalGraphicsCapabilities | null) ?? null,
  };
}

/** Input queued for a child that does not read, beyond which the client's socket stops being read. */
const INPUT_HIGH_WATER_BYTES = 1024 * 1024;
const INPUT_LOW_WATER_BYTES = 64 * 1024;
const INPUT_DRAIN_POLL_MS = 10;

// Stops reading the client's frames until the child's terminal took most of the queued input,
// so a client pasting into a program that does not read never grows the daemon. (In stream mode
// the connection leaves pause/resume to the stream handler.)
function holdInputUntilDrained(session: PtySession, channel: StreamChannel): void {
  channel.socket.pause();
  const timer = setInterval(() => {
    if (channel.closed || session.exit || session.queuedInputBytes() <= INPUT_LOW_WATER_BYTES) {
      clearInterval(timer);
      if (!channel.closed) channel.socket.resume();
    }
  }, INPUT_DRAIN_POLL_MS);
}

// Client → daemon frames of one attachment. Input of a finished (stolen, detached) attachment is
// dropped; resize only when the client said it is a TTY.
function pumpInput(state: DaemonState, session: PtySession, attachment: Attachment, isTty: boolean, channel: StreamChannel): void {
  channel.onInput((body) => {
    if (attachment.finished) return;
    let frame: running_process.daemon.v1.PtyInputFrame;
    try {
      frame = pb.PtyInputFrame.decode(body);
    } catch (err) {
      session.undecodableInputFrames++;
      state.log.warn(`pty session ${session.id}: ignored an undecodable input frame from ${channel.clientLabel} ` +
        `(${body.length} bytes, ${(err as Error).message}); ${session.undecodableInputFrames} so far`);
      return;
    }
    switch (frame.frame) {
      case 'input':
        session.write(Buffer.from(frame.input as Uint8Array));
        if (session.queuedInputBytes() > INPUT_HIGH_WATER_BYTES && !channel.socket.isPaused()) holdInputUntilDrained(session, channel);
        break;
      case 'resize':
        if (isTty && frame.resize) session.resize(Math.min(frame.resize.rows ?? 0, MAX_PTY_DIMENSION), Math.min(frame.resize.cols ?? 0, MAX_PTY_DIMENSION));
        break;
      case 'interrupt': if (frame.interrupt) session.interrupt(); break;
      case 'detach': if (frame.detach) attachment.finish({ kind: 'detached' }); break;
      case 'outputAcknowledged': attachment.window?.acknowledge(Number(frame.outputAcknowledged)); break;
      default: break;
    }
  });
}

type AttachRequest = RequestPayload<'attachPtySession'>;

/** An attach request's options, checked before anything is spawned, resized or attached. */
interface AttachOptions {
  req: AttachRequest;
  rows: number;
  cols: number;
  replay: PtyReplay;
  prefix: string;
}

function checkAttachOptions(req: AttachRequest, prefix = ''): AttachOptions {
  return {
    req,
    rows: checkDimension(`${prefix}rows`, req.rows),
    cols: checkDimension(`${prefix}cols`, req.cols),
    replay: replayMode(req.replay, `${prefix}replay`),
    prefix,
  };
}

/** Attaches the requesting connection to session: the attach response, and what streams after it. */
async function attachConnection(ctx: HandlerContext, session: PtySession, opts: AttachOptions) {
  const { req } = opts;
  // The session resizes once the attach is granted (a refused one must not resize the attached
  // client's terminal), and before a screen snapshot so the rendering has the client's size.
  const grant = await session.attach(ctx.clientLabel, {
    steal: req.steal,
    replay: opts.replay,
    terminal: { term: req.term, isTty: req.isTty, graphics: req.graphicsCapabilities },
    size: req.isTty && !ctx.clientGone() ? { rows: opts.rows, cols: opts.cols } : null,
    clientGone: ctx.clientGone,
    flow: attachFlowOf(ctx.state, req, opts.prefix),
  });
  grant.attachment.explicitDetach = req.detachedFrame;
  // A terminal client's flow window (issue 18.3): set before the pump starts.
  if (req.outputWindowBytes > 0) {
    const window = new OutputWindow(req.outputWindowBytes);
    // Held while more than a window behind: a ^C then has at most twice the window ahead of its echo.
    window.holdSourceWhileBehind({
      pause: () => session.output.pauseSource(window),
      resume: () => session.output.resumeSource(window),
      lagLimitBytes: window.size,
    });
    grant.attachment.window = window;
  }
  return {
    response: {
      streamEndpoint: '', backlog: grant.backlog, backlogTruncated: grant.backlogTruncated, bytesMissed: grant.bytesMissed, sessionPid: session.pid,
      startOffset: grant.startOffset, endOffset: grant.endOffset,
    },
    start: (channel: StreamChannel) => {
      pumpInput(ctx.state, session, grant.attachment, req.isTty, channel);
      grant.attachment.start(new SocketSink(channel));
    },
  };
}

type SpawnRequest = RequestPayload<'spawnPtySession'>;

/** Spawns the request's child on a new PTY and adds it to the session table. */
function spawnFromRequest(req: SpawnRequest, state: DaemonState): PtySession {
  const sessions = sessionsOf(state);
  const rows = checkDimension('rows', req.rows) || DEFAULT_PTY_ROWS;
  const cols = checkDimension('cols', req.cols) || DEFAULT_PTY_COLS;
  const id = randomUUID();
  const plan = planArgvSpawn(req, {
    sessionId: id, sessionScope: state.config.paths.scopeHash, daemonCwd: state.cwd, defaults: state.config.defaultEnv,
    kindDefaults: [{ key: 'TERM', value: DEFAULT_PTY_TERM }],
  });
  const session = spawnPtySession({
    id, argv: plan.argv, cwd: plan.cwd, env: plan.env, originator: req.originator, rows, cols,
    ringBytes: state.config.ringBytes, codec: ptyFrameCodec,
  });
  sessions.add(session);
  state.log.info(`pty session ${id} started: pid ${session.pid}, ${rows}x${cols}, ${JSON.stringify(session.command)}${req.originator ? ` (originator ${req.originator})` : ''}`);
  return session;
}

export const ptySessionEntries: DispatchEntry[] = [
  // A stream entry that streams only when the request asks to spawn attached (field attach).
  stream(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', (req, ctx) => {
    let attach: AttachOptions | null = null;
    if (req.attach) {
      checkSpawnAttachSessionId(req.attach.sessionId ?? '');
      // A nested message is decoded like the payload itself (every field has its default).
      attach = checkAttachOptions(req.attach as AttachRequest, 'attach.');
      // Checked before anything is spawned, like the rest of the attach.
      attachFlowOf(ctx.state, attach.req, 'attach.');
    }
    const session = spawnFromRequest(req, ctx.state);
    const response = { sessionId: session.id, pid: session.pid, createdAt: session.createdAtMs / 1000 };
    if (!attach) return { response };
    return attachConnection(ctx, session, attach).then(
      (attached) => ({ response, alsoRespond: { attachPtySession: attached.response }, start: attached.start }),
      (err: unknown) => {
        // Spawned to be attached, and nobody will learn its id from this answer: it must not run on.
        session.kill();
        throw err;
      },
    );
  }),
  stream(RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION, 'attachPtySession', async (req, ctx) => {
    const session = ptySession(ctx.state, req.sessionId);
    return attachConnection(ctx, session, checkAttachOptions(req));
  }, { errorCarriesPayload: true }),
  unary(RequestType.REQUEST_TYPE_DETACH_PTY_SESSION, 'detachPtySession', (req, { state }) => {
    ptySession(state, req.sessionId).output.detach();
    return {};
  }),
  unary(RequestType.REQUEST_TYPE_LIST_PTY_SESSIONS, 'listPtySessions', (req, { state }) => ({
    sessions: sessionsOf(state).list({ kind: 'pty', originator: req.originator }).map((s) => ptyInfo(s as PtySession)),
  })),
  // Answers at once: the SIGKILL after the grace runs on a timer.
  unary(RequestType.REQUEST_TYPE_TERMINATE_PTY_SESSION, 'terminatePtySession', (req, { state }) => {
    const sig = terminateSignalOf(req.signal);
    return terminateSession(ptySession(state, req.sessionId), req.graceMs, sig);
  }),
  unary(RequestType.REQUEST_TYPE_RESIZE_PTY_SESSION, 'resizePtySession', (req, { state }) => {
    const session = ptySession(state, req.sessionId);
    session.resize(checkDimension('rows', req.rows), checkDimension('cols', req.cols));
    return {};
  }),
];
