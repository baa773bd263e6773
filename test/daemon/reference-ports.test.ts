// Behaviours the reference's own daemon tests check (purge, bulk terminate, termination outcomes,
// backlog accumulation while detached, resize without attach), checked here against our daemon
// through a client built only from the reference's newest proto. Written for this project: the
// scenarios are the reference's, the code and fixtures (sh, sleep, stty) are ours.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { Contract, ContractConnection, type Plain } from '../helpers/contract-client';

const head = new Contract('reference-head');
const T = head.enum('RequestType').values;
const OUTCOME = head.enum('TerminationOutcome').values;

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

/** One request that must be answered OK; returns its payload. */
async function ok(c: ContractConnection, type: string, payload: Plain = {}): Promise<Plain> {
  const field = head.requestTypes().find((t) => t.name === type)!.field.name;
  const r = await c.call({ type: T[type], [field]: payload });
  expect([type, r.code ?? 0, r.message ?? '']).toEqual([type, 0, r.message ?? '']);
  return r[field] ?? {};
}

async function pipes(c: ContractConnection, originator: string): Promise<Plain[]> {
  return (await ok(c, 'REQUEST_TYPE_LIST_PIPE_SESSIONS', { originator })).sessions ?? [];
}

describe('ported from the reference daemon tests', () => {
  it('purge removes only exited sessions (sessions_bulk_ops_test)', async () => {
    const c = await open();
    const alive = await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sleep', '60'], originator: 'bulk-purge' });
    const doomed = await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sleep', '60'], originator: 'bulk-purge' });
    await ok(c, 'REQUEST_TYPE_TERMINATE_PIPE_SESSION', { session_id: doomed.session_id, grace_ms: 500 });
    await waitFor(async () => (await pipes(c, 'bulk-purge')).find((s) => s.session_id === doomed.session_id)?.exited, 'the terminated session exited');
    const purged = await ok(c, 'REQUEST_TYPE_PURGE_EXITED_SESSIONS', { originator: 'bulk-purge' });
    expect([purged.pty_purged ?? 0, purged.pipe_purged ?? 0]).toEqual([0, 1]);
    expect((await pipes(c, 'bulk-purge')).map((s) => s.session_id)).toEqual([alive.session_id]);
  });

  it('bulk terminate with older_than 0 ends every session of the originator and no other (sessions_bulk_ops_test)', async () => {
    const c = await open();
    for (let i = 0; i < 3; i++) await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sleep', '60'], originator: 'bulk-kill' });
    const untouched = await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sleep', '60'], originator: 'other' });
    const r = await ok(c, 'REQUEST_TYPE_BULK_TERMINATE_SESSIONS', { older_than_secs: 0, originator: 'bulk-kill', grace_ms: 500 });
    expect([r.pty_terminated ?? 0, r.pipe_terminated ?? 0]).toEqual([0, 3]);
    await waitFor(async () => (await pipes(c, 'bulk-kill')).every((s) => s.exited), 'the three to exit');
    const other = await pipes(c, 'other');
    expect(other.map((s) => [s.session_id, s.exited ?? false])).toEqual([[untouched.session_id, false]]);
  });

  it('termination outcome: UNSPECIFIED while live, SOFT_EXIT or HARD_KILLED after a terminate, PTY and pipe (termination_outcome_test)', async () => {
    const c = await open();
    const pty = await ok(c, 'REQUEST_TYPE_SPAWN_PTY_SESSION', { argv: ['sleep', '60'], originator: 'term-out' });
    const pipe = await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sleep', '60'], originator: 'term-out' });
    const ptys = async () => (await ok(c, 'REQUEST_TYPE_LIST_PTY_SESSIONS', { originator: 'term-out' })).sessions as Plain[];
    expect((await ptys())[0].termination_outcome ?? 0).toBe(OUTCOME.TERMINATION_OUTCOME_UNSPECIFIED);
    expect((await pipes(c, 'term-out'))[0].termination_outcome ?? 0).toBe(OUTCOME.TERMINATION_OUTCOME_UNSPECIFIED);
    await ok(c, 'REQUEST_TYPE_TERMINATE_PTY_SESSION', { session_id: pty.session_id, grace_ms: 1000 });
    await ok(c, 'REQUEST_TYPE_TERMINATE_PIPE_SESSION', { session_id: pipe.session_id, grace_ms: 1000 });
    const ptyDone = await waitFor(async () => (await ptys()).find((s) => s.exited), 'the PTY session to exit');
    const pipeDone = await waitFor(async () => (await pipes(c, 'term-out')).find((s) => s.exited), 'the pipe session to exit');
    for (const s of [ptyDone, pipeDone]) {
      expect([OUTCOME.TERMINATION_OUTCOME_SOFT_EXIT, OUTCOME.TERMINATION_OUTCOME_HARD_KILLED]).toContain(s.termination_outcome);
    }
    // sleep dies of SIGTERM at once: the soft signal worked.
    expect(pipeDone.termination_outcome).toBe(OUTCOME.TERMINATION_OUTCOME_SOFT_EXIT);
  });

  it('the backlog fills while nobody is attached, is not consumed by snapshots, and is replayed on attach (backlog_accumulation_test)', async () => {
    const c = await open();
    const s = await ok(c, 'REQUEST_TYPE_SPAWN_PIPE_SESSION', { argv: ['sh', '-c', 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done'] });
    const snapshot = async () => Buffer.from((await ok(c, 'REQUEST_TYPE_GET_SESSION_BACKLOG', { session_id: s.session_id, pipe_stream: 1 })).backlog ?? []);
    const first = await waitFor(async () => { const b = await snapshot(); return b.includes('tick 2') ? b : null; }, 'a few ticks');
    // Snapshots consume nothing: a later one still starts with the same bytes, and has grown.
    const second = await waitFor(async () => { const b = await snapshot(); return b.length > first.length ? b : null; }, 'the backlog to grow');
    expect(second.subarray(0, first.length)).toEqual(first);
    const stream = await ContractConnection.open(head, daemon!.paths.socketPath);
    try {
      const attached = await stream.call({ type: T.REQUEST_TYPE_ATTACH_PIPE_STREAM, attach_pipe_stream: { session_id: s.session_id, stream: 1 } });
      const replay = Buffer.from(attached.attach_pipe_stream.backlog ?? []);
      expect(replay.subarray(0, second.length)).toEqual(second);
      expect(replay.toString()).toMatch(/^tick 0\ntick 1\ntick 2\n/);
      // The attached client has seen it: what a snapshot reports as missed is now only what came after.
      const after = await snapshot();
      expect(after.length).toBeLessThan(replay.length);
    } finally {
      stream.close();
    }
    await ok(c, 'REQUEST_TYPE_TERMINATE_PIPE_SESSION', { session_id: s.session_id, grace_ms: 200 });
  });

  it('resizes a PTY without attaching; the child sees the new size (resize_rpc_test)', async () => {
    const c = await open();
    const s = await ok(c, 'REQUEST_TYPE_SPAWN_PTY_SESSION', { argv: ['sh', '-c', 'read x; stty size; sleep 60'], rows: 24, cols: 80 });
    await ok(c, 'REQUEST_TYPE_RESIZE_PTY_SESSION', { session_id: s.session_id, rows: 33, cols: 77 });
    const listed = (await ok(c, 'REQUEST_TYPE_LIST_PTY_SESSIONS')).sessions as Plain[];
    expect([listed[0].rows, listed[0].cols]).toEqual([33, 77]);
    const stream = await ContractConnection.open(head, daemon!.paths.socketPath);
    try {
      const attached = await stream.call({ type: T.REQUEST_TYPE_ATTACH_PTY_SESSION, attach_pty_session: { session_id: s.session_id } });
      expect(attached.code ?? 0).toBe(0);
      // A non-TTY attach does not resize (and a 0 size would mean "keep"): the size stays 33x77.
      stream.sendBody(head.type('PtyInputFrame').encode({ input: Buffer.from('go\n') }).finish());
      await waitFor(() => stream.frames.slice(1).map((f) => stream.decode('PtyStreamFrame', f).output ?? Buffer.alloc(0))
        .reduce((a: Buffer, b: Buffer) => Buffer.concat([a, b]), Buffer.alloc(0)).toString().includes('33 77'), 'stty size to print 33 77');
    } finally {
      stream.close();
    }
    await ok(c, 'REQUEST_TYPE_TERMINATE_PTY_SESSION', { session_id: s.session_id, grace_ms: 200 });
  });
});
