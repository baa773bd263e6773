// The compatibility fixes of issue 19, seen by a client built only from the reference's newest
// proto (test/helpers/contract-client.ts): what a reference client sends and expects back.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client/index';
import { Contract, ContractConnection } from '../helpers/contract-client';
import { unusedPid } from '../registry/fixtures';

const head = new Contract('reference-head');
const CODE = head.enum('StatusCode').values;
const TYPE = head.enum('RequestType').values;

let daemon: TestDaemon | null = null;
let conn: ContractConnection | null = null;
afterEach(async () => {
  conn?.close();
  conn = null;
  await daemon?.stop();
  daemon = null;
});

async function open(): Promise<ContractConnection> {
  daemon = await startDaemon();
  conn = await ContractConnection.open(head, daemon.paths.socketPath);
  return conn;
}

describe('reference client compatibility (issue 19)', () => {
  it('answers LIST_PTY_SESSIONS sent with no payload at all with OK, as the reference does', async () => {
    const c = await open();
    const spawned = await c.call({ type: TYPE.REQUEST_TYPE_SPAWN_PTY_SESSION, spawn_pty_session: { argv: ['sleep', '30'] } });
    expect(spawned.code ?? 0).toBe(CODE.STATUS_CODE_OK);
    const listed = await c.call({ type: TYPE.REQUEST_TYPE_LIST_PTY_SESSIONS });
    expect(listed.code ?? 0).toBe(CODE.STATUS_CODE_OK);
    expect(listed.list_pty_sessions.sessions.map((s: { session_id: string }) => s.session_id)).toEqual([spawned.spawn_pty_session.session_id]);
    // The same for the other payload-less lists and probes.
    for (const type of ['REQUEST_TYPE_PING', 'REQUEST_TYPE_STATUS', 'REQUEST_TYPE_LIST_ACTIVE', 'REQUEST_TYPE_LIST_PIPE_SESSIONS', 'REQUEST_TYPE_SERVICE_LIST']) {
      const r = await c.call({ type: TYPE[type] });
      expect([type, r.code ?? 0]).toEqual([type, CODE.STATUS_CODE_OK]);
    }
    // Without a payload a request means its all-default payload, so what needs a value still says so.
    const attach = await c.call({ type: TYPE.REQUEST_TYPE_TERMINATE_PTY_SESSION });
    expect(attach.code).toBe(CODE.STATUS_CODE_INVALID_ARGUMENT);
    expect(attach.message).toMatch(/session_id is required/);
    await c.call({ type: TYPE.REQUEST_TYPE_TERMINATE_PTY_SESSION, terminate_pty_session: { session_id: spawned.spawn_pty_session.session_id } });
  });

  it('answers KILL_TREE of a pid that no longer exists with OK and processes_killed 0 (idempotent)', async () => {
    const c = await open();
    const ghost = unusedPid();
    const r = await c.call({ type: TYPE.REQUEST_TYPE_KILL_TREE, kill_tree: { pid: ghost } });
    expect(r.code ?? 0).toBe(CODE.STATUS_CODE_OK);
    expect(r.kill_tree).toEqual({});
    expect(r.kill_tree.processes_killed ?? 0).toBe(0);
    // Twice is the same.
    const again = await c.call({ type: TYPE.REQUEST_TYPE_KILL_TREE, kill_tree: { pid: ghost } });
    expect(again.code ?? 0).toBe(CODE.STATUS_CODE_OK);
  });

  it('gives error answers to attach requests the empty attach payload', async () => {
    const c = await open();
    const pty = await c.call({ type: TYPE.REQUEST_TYPE_ATTACH_PTY_SESSION, attach_pty_session: { session_id: 'no-such-session' } });
    expect(pty.code).toBe(CODE.STATUS_CODE_NOT_FOUND);
    expect(pty.attach_pty_session).toEqual({});
    const pipe = await c.call({ type: TYPE.REQUEST_TYPE_ATTACH_PIPE_STREAM, attach_pipe_stream: { session_id: 'no-such-session', stream: 1 } });
    expect(pipe.code).toBe(CODE.STATUS_CODE_NOT_FOUND);
    expect(pipe.attach_pipe_stream).toEqual({});
    const bad = await c.call({ type: TYPE.REQUEST_TYPE_ATTACH_PIPE_STREAM, attach_pipe_stream: { session_id: 'x', stream: 9 } });
    expect(bad.code).toBe(CODE.STATUS_CODE_INVALID_ARGUMENT);
    expect(bad.attach_pipe_stream).toEqual({});
    const none = await c.call({ type: TYPE.REQUEST_TYPE_ATTACH_PTY_SESSION });
    expect(none.code).toBe(CODE.STATUS_CODE_INVALID_ARGUMENT);
    expect(none.attach_pty_session).toEqual({});
    // Other requests' errors carry no payload.
    const detach = await c.call({ type: TYPE.REQUEST_TYPE_DETACH_PTY_SESSION, detach_pty_session: { session_id: 'no-such-session' } });
    expect(detach.code).toBe(CODE.STATUS_CODE_NOT_FOUND);
    expect(detach.detach_pty_session).toBeUndefined();
    // The connection goes on answering after the refusals.
    expect((await c.call({ type: TYPE.REQUEST_TYPE_PING, ping: {} })).code ?? 0).toBe(CODE.STATUS_CODE_OK);
  });

  it('ends a detached pipe stream with eof for a reference client, with the explicit detached frame for ours', async () => {
    const c = await open();
    const spawned = await c.call({ type: TYPE.REQUEST_TYPE_SPAWN_PIPE_SESSION, spawn_pipe_session: { argv: ['sleep', '30'] } });
    const sessionId = spawned.spawn_pipe_session.session_id as string;
    const stream = await ContractConnection.open(head, daemon!.paths.socketPath);
    try {
      const attached = await stream.call({ type: TYPE.REQUEST_TYPE_ATTACH_PIPE_STREAM, attach_pipe_stream: { session_id: sessionId, stream: 1 } });
      expect(attached.code ?? 0).toBe(CODE.STATUS_CODE_OK);
      const detached = await c.call({ type: TYPE.REQUEST_TYPE_DETACH_PIPE_STREAM, detach_pipe_stream: { session_id: sessionId, stream: 1 } });
      expect(detached.code ?? 0).toBe(CODE.STATUS_CODE_OK);
      // The reference's terminal frame for a detach: eof, which a v1 client knows.
      expect(stream.decode('PipeStreamFrame', await stream.frame(1))).toEqual({ eof: true });
      await waitFor(() => stream.closed, 'the daemon to close the stream');
    } finally {
      stream.close();
    }
    // Our client asks for the explicit frame (AttachPipeStreamRequest.detached_frame) and gets it.
    const ours = await daemon!.client.attachPipe(sessionId);
    await daemon!.client.detachPipe(sessionId);
    const frames = [];
    for await (const f of ours) frames.push(f);
    expect(frames).toEqual([{ kind: 'detached' }]);
    await c.call({ type: TYPE.REQUEST_TYPE_TERMINATE_PIPE_SESSION, terminate_pipe_session: { session_id: sessionId } });
  });

  it('ends a detached PTY stream with error "detached" for a reference client (what the reference sends), explicit for ours', async () => {
    const c = await open();
    const spawned = await c.call({ type: TYPE.REQUEST_TYPE_SPAWN_PTY_SESSION, spawn_pty_session: { argv: ['sleep', '30'] } });
    const sessionId = spawned.spawn_pty_session.session_id as string;
    const stream = await ContractConnection.open(head, daemon!.paths.socketPath);
    try {
      const attached = await stream.call({ type: TYPE.REQUEST_TYPE_ATTACH_PTY_SESSION, attach_pty_session: { session_id: sessionId } });
      expect(attached.code ?? 0).toBe(CODE.STATUS_CODE_OK);
      await c.call({ type: TYPE.REQUEST_TYPE_DETACH_PTY_SESSION, detach_pty_session: { session_id: sessionId } });
      // Frames after the response: output the shell may print, then the terminal one.
      await waitFor(() => stream.closed, 'the daemon to close the stream');
      const last = stream.decode('PtyStreamFrame', stream.frames.at(-1)!);
      expect(last).toEqual({ error: 'detached' });
    } finally {
      stream.close();
    }
    const ours = await daemon!.client.attachPty(sessionId);
    await daemon!.client.detachPty(sessionId);
    const frames = [];
    for await (const f of ours) frames.push(f);
    expect(frames.at(-1)).toEqual({ kind: 'detached' });
    await c.call({ type: TYPE.REQUEST_TYPE_TERMINATE_PTY_SESSION, terminate_pty_session: { session_id: sessionId } });
  });

  it('checks a tee registration before looking its session up: malformed is INVALID_ARGUMENT, not NOT_FOUND', async () => {
    const c = await open();
    const r = await c.call({
      type: TYPE.REQUEST_TYPE_REGISTER_SESSION_TEE,
      register_session_tee: { session_id: 'no-such-session', session_kind: 2, stream: 2, sink_kind: 0, file_path: Buffer.from('/tmp/x') },
    });
    expect(r.code).toBe(CODE.STATUS_CODE_INVALID_ARGUMENT);
    expect(r.message).toMatch(/only file sinks/);
    const wellFormed = await c.call({
      type: TYPE.REQUEST_TYPE_REGISTER_SESSION_TEE,
      register_session_tee: { session_id: 'no-such-session', session_kind: 2, stream: 2, sink_kind: 1, file_path: Buffer.from('/tmp/x') },
    });
    expect(wellFormed.code).toBe(CODE.STATUS_CODE_NOT_FOUND);
  });
});
