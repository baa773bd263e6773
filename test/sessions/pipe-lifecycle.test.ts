// Black-box tests of pipe-session lifecycle: terminate/escalation outcomes, no survivors, list,
// backlog, purge, bulk terminate, the exited-ring budget, shutdown, and bad inputs of 65–73.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { payloadOf } from '../../src/client/daemon-client';
import '../../src/client/sessions-api';
import { collect, expectDaemonError, py } from './helpers';

let daemon: TestDaemon | null = null;
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
});

const IGNORE_TERM = 'import signal,sys,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print("armed", flush=True); time.sleep(1000)';
const outcome = (o: number) => pb.TerminationOutcome[o];

describe('terminate', () => {
  it('answers at once, then SIGKILLs a SIGTERM-ignoring child after the grace: HARD_KILLED', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: py(IGNORE_TERM) });
    // "armed" and its newline may arrive apart (PYTHONUNBUFFERED): wait for the whole line.
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString() === 'armed\n', 'SIGTERM ignored');
    const att = await c.attachPipe(s.sessionId);
    expect(att.backlog.toString()).toBe('armed\n');
    await c.terminate(s.sessionId, 300);
    // The answer came while the child still lives (it ignores SIGTERM; SIGKILL waits for the grace).
    expect(isAlive(s.pid)).toBe(true);
    expect((await c.listPipes())[0]!.exited).toBe(false);
    const got = await collect(att);
    expect(got.terminal).toEqual({ kind: 'exit', code: -9 });
    const info = (await c.listPipes())[0]!;
    expect(info).toMatchObject({ exited: true, exitCode: 137, signal: 'SIGKILL' });
    expect(outcome(info.terminationOutcome)).toBe('TERMINATION_OUTCOME_HARD_KILLED');
    expect(isAlive(s.pid)).toBe(false);
  });

  it('records SOFT_EXIT when SIGTERM works and NATURAL_EXIT when the child ends on its own', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const soft = await c.spawnPipe({ argv: ['sleep', '1000'], originator: 'soft' });
    const natural = await c.spawnPipe({ argv: ['true'], originator: 'natural' });
    await c.terminate(soft.sessionId, 5000);
    await waitFor(async () => (await c.listPipes()).every((s) => s.exited), 'both exited');
    const [a] = await c.listPipes('soft');
    const [b] = await c.listPipes('natural');
    expect(outcome(a!.terminationOutcome)).toBe('TERMINATION_OUTCOME_SOFT_EXIT');
    expect(a).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    expect(outcome(b!.terminationOutcome)).toBe('TERMINATION_OUTCOME_NATURAL_EXIT');
    expect(b).toMatchObject({ exitCode: 0, signal: null });
    const backlog = await c.backlog(a!.sessionId);
    expect(outcome(backlog.terminationOutcome)).toBe('TERMINATION_OUTCOME_SOFT_EXIT');
    // Terminating an exited session is a no-op, not an error.
    await c.terminate(b!.sessionId);
  });

  it("leaves no process behind for sh -c 'sleep 1000 & sleep 1000'", async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'sleep 1000 & echo $!; sleep 1000'] });
    const bg = Number(await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString().trim(), 'background pid'));
    strays.push(bg);
    expect(isAlive(bg)).toBe(true);
    await c.terminate(s.sessionId, 300);
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'exit');
    await waitFor(() => !isAlive(bg) && !isAlive(s.pid), 'every process of the session gone');
  });

  it('SIGKILLs a descendant that left the process group and ignores SIGTERM', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const escapee = 'import os,signal,subprocess,sys,time\n'
      + `p = subprocess.Popen([sys.executable, "-c", ${JSON.stringify(IGNORE_TERM)}], start_new_session=True, stdout=subprocess.DEVNULL)\n`
      + 'print(p.pid, flush=True); time.sleep(1000)';
    const s = await c.spawnPipe({ argv: py(escapee) });
    const pid = Number(await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString().trim(), 'escapee pid'));
    strays.push(pid);
    await waitFor(() => isAlive(pid), 'escapee running');
    await c.terminate(s.sessionId, 300);
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'leader exit');
    await waitFor(() => !isAlive(pid), 'escapee killed after the grace');
  });

  it('kills every session on daemon shutdown', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.spawnPipe({ argv: py(IGNORE_TERM) });
    await waitFor(async () => (await daemon!.client.backlog(s.sessionId)).backlog.length > 0, 'armed');
    await daemon.stop();
    daemon = null;
    await waitFor(() => !isAlive(s.pid), 'session child gone after shutdown');
  });
});

describe('list, backlog, purge, bulk terminate', () => {
  it('lists sessions with every field, filtered by exact originator', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const before = Date.now() / 1000;
    const a = await c.spawnPipe({ argv: ['sleep', '1000'], originator: 'alpha', cwd: '/' });
    await c.spawnPipe({ argv: ['sleep', '1000'], originator: 'alphabet' });
    expect((await c.listPipes()).length).toBe(2);
    const rows = await c.listPipes('alpha');
    expect(rows.length).toBe(1);
    const r = rows[0]!;
    expect(r).toMatchObject({
      sessionId: a.sessionId, pid: a.pid, command: 'sleep 1000', cwd: '/', originator: 'alpha',
      stdoutAttached: false, stderrAttached: false, exited: false, exitCode: null, signal: null, exitedAt: 0, mergeStderrIntoStdout: false,
    });
    expect(r.createdAt).toBeGreaterThanOrEqual(before - 1);
    expect(r.createdAt).toBe(a.createdAt);
    expect(outcome(r.terminationOutcome)).toBe('TERMINATION_OUTCOME_UNSPECIFIED');
    expect(await c.listPipes('nobody')).toEqual([]);
    await c.bulkTerminate({ graceMs: 200 });
  });

  it('bulk-terminates by originator and strictly-greater age, and purges only exited sessions', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const a = await c.spawnPipe({ argv: ['sleep', '1000'], originator: 'a' });
    const b = await c.spawnPipe({ argv: ['sleep', '1000'], originator: 'b' });
    expect(await c.bulkTerminate({ olderThanSecs: 3600, graceMs: 200 })).toMatchObject({ pipeTerminated: 0, ptyTerminated: 0 });
    expect(await c.bulkTerminate({ originator: 'a', graceMs: 200 })).toMatchObject({ pipeTerminated: 1, ptyTerminated: 0 });
    await waitFor(async () => (await c.listPipes('a'))[0]!.exited, 'a exited');
    expect((await c.listPipes('b'))[0]!.exited).toBe(false);
    expect(await c.purge('b')).toMatchObject({ pipePurged: 0, ptyPurged: 0 });
    expect(await c.purge()).toMatchObject({ pipePurged: 1, ptyPurged: 0 });
    expect((await c.listPipes()).map((s) => s.sessionId)).toEqual([b.sessionId]);
    await expectDaemonError(c.backlog(a.sessionId), StatusCode.STATUS_CODE_NOT_FOUND, new RegExp(a.sessionId));
    await c.terminate(b.sessionId, 200);
  });

  it('drops the oldest exited sessions beyond the exited-ring budget and logs it', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', '65536', '--exited-ring-budget', '150000'] });
    const c = daemon.client;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await c.spawnPipe({ argv: py('import sys; sys.stdout.write("y" * 60000)') });
      ids.push(s.sessionId);
      await waitFor(async () => (await c.listPipes()).find((x) => x.sessionId === s.sessionId)?.exited, `session ${i} exit`);
    }
    const left = (await c.listPipes()).map((s) => s.sessionId);
    expect(left).toEqual(ids.slice(1));
    await waitFor(() => daemon!.stderr().includes(`dropped exited pipe session ${ids[0]}`), 'log line about the drop');
  });
});

describe('bad input', () => {
  it('rejects bad spawn requests, naming the problem', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const bad = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    await expectDaemonError(c.spawnPipe({ argv: [] }), bad, /argv must not be empty/);
    await expectDaemonError(c.spawnPipe({ argv: [''] }), bad, /argv\[0\]/);
    await expectDaemonError(c.spawnPipe({ argv: ['no-such-program-xyz'] }), StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, /^no-such-program-xyz: command not found$/);
    const plain = path.join(daemon.home, 'not-executable');
    fs.writeFileSync(plain, 'data', { mode: 0o644 });
    await expectDaemonError(c.spawnPipe({ argv: [plain] }), StatusCode.STATUS_CODE_COMMAND_NOT_EXECUTABLE, /not-executable: Permission denied$/);
    await expectDaemonError(c.spawnPipe({ argv: ['true'], cwd: '/no/such/dir' }), bad, /\/no\/such\/dir/);
    await expectDaemonError(c.spawnPipe({ argv: ['true'], cwd: plain }), bad, /not-executable.*not a directory/);
    await expectDaemonError(c.spawnPipe({ argv: ['true'], env: [{ key: 'A=B', value: '1' }] }), bad, /"A=B"/);
    await expectDaemonError(c.spawnPipe({ argv: ['true'], env: [{ key: '', value: '1' }] }), bad, /env key "" is invalid/);
    // Spawning attached: the attach's own fields are checked before anything is spawned.
    const spawnAttached = (fields: Record<string, unknown>, attach: Record<string, unknown>) =>
      c.openStream(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', { argv: ['true'], ...fields, attach });
    await expectDaemonError(spawnAttached({}, { sessionId: 'x', stream: 1 }), bad, /attach\.session_id must be empty/);
    await expectDaemonError(spawnAttached({}, { stream: 0 }), bad, /attach\.stream must be STDOUT or STDERR, got PIPE_STREAM_KIND_UNSPECIFIED/);
    await expectDaemonError(spawnAttached({ mergeStderrIntoStdout: true }, { stream: 2 }), bad, /attach\.stream is STDERR but merge_stderr_into_stdout/);
    await expectDaemonError(c.spawnPipeAttached({ argv: ['no-such-program-xyz'] }), StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, /no-such-program-xyz: command not found/);
    expect(await c.listPipes()).toEqual([]);
  });

  it('rejects bad ids and stream selectors on 66–73', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const bad = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    const nf = StatusCode.STATUS_CODE_NOT_FOUND;
    const ghost = '00000000-0000-4000-8000-000000000000';
    const s = await c.spawnPipe({ argv: ['sleep', '1000'] });
    const raw = async (type: RequestType, key: string, payload: unknown) => payloadOf(await c.send(type, key, payload), key as 'ping');

    await expectDaemonError(raw(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream', { sessionId: s.sessionId, stream: 0 }), bad, /STDOUT or STDERR, got PIPE_STREAM_KIND_UNSPECIFIED/);
    await expectDaemonError(c.openStream(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream', { sessionId: s.sessionId, stream: 0 }), bad, /UNSPECIFIED/);
    await expectDaemonError(c.openStream(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream', { sessionId: s.sessionId, stream: 9 }), bad, /got 9/);
    await expectDaemonError(c.attachPipe(ghost), nf, new RegExp(ghost));
    await expectDaemonError(c.attachPipe(''), bad, /session_id is required/);
    await expectDaemonError(raw(RequestType.REQUEST_TYPE_DETACH_PIPE_STREAM, 'detachPipeStream', { sessionId: s.sessionId, stream: 0 }), bad, /UNSPECIFIED/);
    await expectDaemonError(c.detachPipe(ghost), nf, new RegExp(ghost));
    await expectDaemonError(c.terminate(ghost), nf, new RegExp(ghost));
    await expectDaemonError(c.terminate(''), bad, /session_id is required/);
    await expectDaemonError(c.writeStdin(ghost, 'x'), nf, new RegExp(ghost));
    await expectDaemonError(c.backlog(ghost), nf, new RegExp(ghost));
    await expectDaemonError(raw(RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, 'getSessionBacklog', { sessionId: s.sessionId, pipeStream: 5 }), bad, /got 5/);
    await expectDaemonError(raw(RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, 'getSessionBacklog', { sessionId: '' }), bad, /session_id is required/);
    // List, purge and bulk terminate take only filters: an unknown originator matches nothing.
    expect(await c.listPipes(ghost)).toEqual([]);
    expect(await c.purge(ghost)).toMatchObject({ pipePurged: 0 });
    expect(await c.bulkTerminate({ originator: ghost })).toMatchObject({ pipeTerminated: 0 });
    // A missing payload means the all-default one (as in the reference): refused where an empty
    // session_id or argv is bad, answered where it only means "no filter".
    for (const type of [65, 66, 67, 69, 70, 71]) {
      const r = await c.send(type, null, null);
      expect([type, StatusCode[r.code]]).toEqual([type, 'STATUS_CODE_INVALID_ARGUMENT']);
    }
    expect(StatusCode[(await c.send(68, null, null)).code]).toBe('STATUS_CODE_OK');
    await c.terminate(s.sessionId, 100);
  });
});
