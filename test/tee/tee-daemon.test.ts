// Black-box tests of session tees (requests 75–77) through a real daemon, real children and the
// real client: byte-exact BLOCK copies, DROP_OLDEST accounting with a slowed sink, a full disk,
// STDIN tees, unregister flushing, tees closing with their session, and every bad input.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, runCli, makeTempHome, type TestDaemon } from '../helpers/daemon';
import '../../src/client'; // installs the family methods (sessions, tees) on DaemonClient
import type { DaemonClient } from '../../src/client';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { payloadOf } from '../../src/client/daemon-client';
import { DaemonError } from '../../src/wire/errors';
import { checkAgainstStream, letters } from './check-stream';

let daemon: TestDaemon | null = null;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function scratch(): string {
  const dir = makeTempHome('rp-teef-');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pipe session that prints nothing until it gets a line on stdin, then runs `script`. */
async function gatedSession(client: DaemonClient, script: string, opts: { mergeStderr?: boolean } = {}): Promise<string> {
  const r = await client.spawnPipe({ argv: ['sh', '-c', `read go; ${script}`], mergeStderr: opts.mergeStderr });
  return r.sessionId;
}

/** Attaches to stdout and reads until the terminal frame: by then every chunk reached the taps. */
async function waitStreamEnd(client: DaemonClient, id: string): Promise<void> {
  const att = await client.attachPipe(id);
  for await (const f of att) if (f.kind === 'exit' || f.kind === 'eof' || f.kind === 'error') break;
  att.close();
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Raw RegisterSessionTee with sane defaults, for bad-input tests. */
function registerRaw(client: DaemonClient, fields: Record<string, unknown>) {
  return client.send(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE, 'registerSessionTee', {
    sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PIPE,
    stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDOUT,
    sinkKind: pb.TeeSinkKind.TEE_SINK_KIND_FILE,
    filePath: Buffer.from('/tmp/unused-tee.log'),
    ...fields,
  });
}

describe('session tees', () => {
  it('BLOCK: two tees of a 50 MB cat, at different paces, both equal the source byte for byte', async () => {
    daemon = await startDaemon();
    const dir = scratch();
    const src = path.join(dir, 'src.bin');
    const fd = fs.openSync(src, 'w');
    for (let i = 0; i < 50; i++) fs.writeSync(fd, crypto.randomBytes(1024 * 1024));
    fs.closeSync(fd);
    const outs = [path.join(dir, 'out1.bin'), path.join(dir, 'out2.bin')];
    const id = await gatedSession(daemon.client, `exec cat ${src}`);
    const handles: number[] = [];
    // The second tee's queue is small, so the two write at different paces from the same reads.
    handles.push(await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: outs[0]!, block: true }));
    handles.push(await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: outs[1]!, block: true, queueCapacity: 4 }));
    expect(handles).toEqual([1, 2]);
    await daemon.client.writeStdin(id, 'go\n');
    await waitStreamEnd(daemon.client, id);
    const want = sha256(fs.readFileSync(src));
    for (const [i, handle] of handles.entries()) {
      const st = await daemon.client.getSessionTeeStatus(id, 'pipe', handle);
      expect(st).toEqual({ stream: 'stdout', missedBytes: 0, disconnected: false });
      await daemon.client.unregisterSessionTee(id, 'pipe', handle);
      expect(fs.statSync(outs[i]!).size).toBe(50 * 1024 * 1024);
      expect(sha256(fs.readFileSync(outs[i]!))).toBe(want);
    }
  });

  it('BLOCK with a tiny queue and a slow file keeps every byte, also across the child\'s exit', async () => {
    // Node resumes a child's stdout by itself when the child exits: the rest of the pipe arrives
    // unpaused, and the BLOCK queue must take it without dropping.
    daemon = await startDaemon({ env: { RUNPM_TEST_TEE_WRITE_DELAY_MS: '30' } });
    const dir = scratch();
    const stream = letters(1024 * 1024, 5);
    const src = path.join(dir, 'src.txt');
    fs.writeFileSync(src, stream);
    const out = path.join(dir, 'out.txt');
    const id = await gatedSession(daemon.client, `exec cat ${src}`);
    const handle = await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: out, block: true, queueCapacity: 2 });
    await daemon.client.writeStdin(id, 'go\n');
    await waitStreamEnd(daemon.client, id);
    expect((await daemon.client.getSessionTeeStatus(id, 'pipe', handle)).missedBytes).toBe(0);
    await daemon.client.unregisterSessionTee(id, 'pipe', handle);
    expect(fs.readFileSync(out).equals(stream)).toBe(true);
  });

  it('DROP_OLDEST with a tiny queue and a slowed sink: file + missed = stream, markers where the drops were', async () => {
    daemon = await startDaemon({ env: { RUNPM_TEST_TEE_WRITE_DELAY_MS: '5' } });
    const dir = scratch();
    const stream = letters(4 * 1024 * 1024, 42);
    const src = path.join(dir, 'letters.txt');
    fs.writeFileSync(src, stream);
    const out = path.join(dir, 'out.txt');
    const id = await gatedSession(daemon.client, `exec cat ${src}`);
    const handle = await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: out, queueCapacity: 2 });
    await daemon.client.writeStdin(id, 'go\n');
    await waitStreamEnd(daemon.client, id);
    const st = await daemon.client.getSessionTeeStatus(id, 'pipe', handle);
    await daemon.client.unregisterSessionTee(id, 'pipe', handle);
    expect(st.missedBytes).toBeGreaterThan(0);
    expect(st.disconnected).toBe(false);
    const result = checkAgainstStream(fs.readFileSync(out), stream);
    expect(result.markers).toBeGreaterThan(0);
    expect(result.missedByMarkers).toBe(st.missedBytes);
    expect(result.written + st.missedBytes).toBe(stream.length);
  });

  it('--no-markers (suppress_missed_markers) counts drops without writing markers', async () => {
    daemon = await startDaemon({ env: { RUNPM_TEST_TEE_WRITE_DELAY_MS: '5' } });
    const dir = scratch();
    const out = path.join(dir, 'out.txt');
    const id = await gatedSession(daemon.client, 'head -c 2000000 /dev/zero | tr "\\0" x');
    const handle = await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: out, queueCapacity: 1, suppressMissedMarkers: true });
    await daemon.client.writeStdin(id, 'go\n');
    await waitStreamEnd(daemon.client, id);
    const st = await daemon.client.getSessionTeeStatus(id, 'pipe', handle);
    await daemon.client.unregisterSessionTee(id, 'pipe', handle);
    const data = fs.readFileSync(out);
    expect(st.missedBytes).toBeGreaterThan(0);
    expect(data.length + st.missedBytes).toBe(2_000_000);
    expect(data.includes('[running-process tee missed')).toBe(false);
  });

  it('a tee on a full disk reports disconnected while the session keeps running', async () => {
    const dir = scratch();
    const mnt = path.join(dir, 'small');
    fs.mkdirSync(mnt);
    let out: string;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
      cleanups.push(() => { try { execFileSync('umount', ['-l', mnt], { stdio: 'ignore' }); } catch { /* already gone */ } });
      out = path.join(mnt, 'out.bin');
    } catch {
      // No permission to mount: /dev/full fails every write with ENOSPC, like a full disk.
      out = '/dev/full';
    }
    daemon = await startDaemon();
    const id = await gatedSession(daemon.client, 'head -c 1000000 /dev/zero; exec cat');
    // BLOCK as well: a failed file must also release the pause, or the child would hang.
    const handle = await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: out, block: true, queueCapacity: 4 });
    await daemon.client.writeStdin(id, 'go\n');
    await waitFor(async () => (await daemon!.client.getSessionTeeStatus(id, 'pipe', handle)).disconnected, 'tee disconnected');
    expect(daemon.stderr() + fs.readFileSync(daemon.paths.daemonLogPath, 'utf8')).toMatch(/ENOSPC/);
    await daemon.client.writeStdin(id, 'still alive\n');
    const att = await daemon.client.attachPipe(id);
    let seen = att.backlog.toString('latin1');
    while (!seen.includes('still alive\n')) {
      const f = await att.next();
      if (!f || f.kind !== 'bytes') break;
      seen += f.data.toString('latin1');
    }
    att.close();
    expect(seen).toContain('still alive\n');
    const [info] = (await daemon.client.listPipes()).filter((s) => s.sessionId === id);
    expect(info.exited).toBe(false);
    await daemon.client.terminate(id);
  });

  it('a STDIN tee records exactly what was written to the child; unregister answers after the flush', async () => {
    daemon = await startDaemon({ env: { RUNPM_TEST_TEE_WRITE_DELAY_MS: '20' } });
    const dir = scratch();
    const out = path.join(dir, 'stdin.log');
    const { sessionId: id } = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'cat > /dev/null'] });
    const handle = await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', stream: 'stdin', filePath: out, truncate: true });
    const parts: string[] = [];
    for (let i = 0; i < 20; i++) {
      parts.push(`line ${i}\n`);
      await daemon.client.writeStdin(id, parts[i]);
    }
    expect((await daemon.client.getSessionTeeStatus(id, 'pipe', handle)).stream).toBe('stdin');
    // Each write takes 20 ms in the slowed sink: the file is incomplete until the flush finishes.
    await daemon.client.unregisterSessionTee(id, 'pipe', handle);
    expect(fs.readFileSync(out, 'utf8')).toBe(parts.join(''));
    await expect(daemon.client.getSessionTeeStatus(id, 'pipe', handle)).rejects.toMatchObject({ code: StatusCode.STATUS_CODE_NOT_FOUND });
    await daemon.client.terminate(id);
  });

  it('several independent tees per stream, handles per session from 1; tees close themselves when the session ends', async () => {
    daemon = await startDaemon();
    const dir = scratch();
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    const e = path.join(dir, 'e.log');
    fs.writeFileSync(a, 'before\n');
    fs.writeFileSync(b, 'gone\n');
    const id = await gatedSession(daemon.client, 'echo out; echo err >&2');
    const other = await gatedSession(daemon.client, 'true');
    expect(await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: a })).toBe(1);
    expect(await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', filePath: b, truncate: true, block: true })).toBe(2);
    expect(await daemon.client.registerSessionTee({ sessionId: id, sessionKind: 'pipe', stream: 'stderr', filePath: e })).toBe(3);
    expect(await daemon.client.registerSessionTee({ sessionId: other, sessionKind: 'pipe', filePath: path.join(dir, 'o.log') })).toBe(1);
    await daemon.client.writeStdin(id, 'go\n');
    await waitFor(() => fs.readFileSync(a, 'utf8') === 'before\nout\n' && fs.readFileSync(b, 'utf8') === 'out\n'
      && fs.readFileSync(e, 'utf8') === 'err\n', 'tee files complete');
    await waitFor(async () => (await daemon!.client.listPipes()).find((s) => s.sessionId === id)?.exited, 'session exited');
    expect(await daemon.client.getSessionTeeStatus(id, 'pipe', 3)).toEqual({ stream: 'stderr', missedBytes: 0, disconnected: false });
    await daemon.client.writeStdin(other, 'go\n');
  });

  it('runpm tee add, status and rm (text and --json)', async () => {
    daemon = await startDaemon();
    const dir = scratch();
    const id = await gatedSession(daemon.client, 'echo hi; exec cat');
    const add = await runCli(['--json', 'tee', 'add', id, 'rel.log', '--block', '--truncate'], { ...daemon.env, PWD: dir });
    expect(add.stderr).toBe('');
    const added = JSON.parse(add.stdout);
    expect(added).toMatchObject({ handle: 1, sessionId: id, sessionKind: 'pipe', stream: 'stdout' });
    expect(path.isAbsolute(added.file)).toBe(true);
    cleanups.push(() => fs.rmSync(added.file, { force: true }));
    const status = await runCli(['--json', 'tee', 'status', id, '1'], daemon.env);
    expect(JSON.parse(status.stdout)).toEqual({ sessionId: id, handle: 1, stream: 'stdout', missedBytes: 0, disconnected: false });
    const text = await runCli(['tee', 'status', id, '1'], daemon.env);
    expect(text.stdout).toMatch(/tee 1 of session .*: stdout, 0 bytes missed, connected/);
    await daemon.client.writeStdin(id, 'go\n');
    await waitFor(() => fs.existsSync(added.file) && fs.readFileSync(added.file, 'utf8') === 'hi\n', 'tee file written');
    const rm = await runCli(['tee', 'rm', id, '1'], daemon.env);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('removed');
    const again = await runCli(['tee', 'rm', id, '1'], daemon.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/has no tee with handle 1 \(NOT_FOUND\)/);
    const bad = await runCli(['tee', 'add', id, 'x.log', '--stream', 'bogus'], daemon.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--stream must be one of .* got "bogus"/);
    await daemon.client.terminate(id);
  });
});

describe('session tees: bad input', () => {
  async function expectError(p: Promise<unknown>, code: StatusCode, message: RegExp): Promise<void> {
    const response = await p as Awaited<ReturnType<DaemonClient['send']>>;
    expect(() => payloadOf(response, 'registerSessionTee')).toThrow(DaemonError);
    expect(response.code).toBe(code);
    expect(response.message).toMatch(message);
  }

  it('RegisterSessionTee refuses every bad field, naming it', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const dir = scratch();
    const id = await gatedSession(c, 'true');
    const merged = await gatedSession(c, 'true', { mergeStderr: true });
    const INVALID = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    await expectError(registerRaw(c, { sessionId: '' }), INVALID, /session_id is required/);
    await expectError(registerRaw(c, { sessionId: 'no-such-id' }), StatusCode.STATUS_CODE_NOT_FOUND, /no session with id "no-such-id"/);
    await expectError(registerRaw(c, { sessionId: id, sessionKind: 0 }), INVALID, /session_kind .*TEE_SESSION_KIND_UNSPECIFIED \(0\)/);
    await expectError(registerRaw(c, { sessionId: id, sessionKind: 9 }), INVALID, /session_kind .*got 9/);
    await expectError(registerRaw(c, { sessionId: id, sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PTY, stream: pb.TeeStreamKind.TEE_STREAM_KIND_PTY_OUTPUT }),
      INVALID, /is a PIPE session, but session_kind says PTY/);
    // The request is checked before the session is looked up: malformed is INVALID_ARGUMENT even
    // when the session does not exist (the reference's order), well-formed is NOT_FOUND.
    await expectError(registerRaw(c, { sessionId: 'no-such-id', sinkKind: 0 }), INVALID, /only file sinks are supported/);
    await expectError(registerRaw(c, { sessionId: 'no-such-id', stream: 12 }), INVALID, /stream 12 is not valid/);
    await expectError(registerRaw(c, { sessionId: 'no-such-id', filePath: Buffer.alloc(0) }), INVALID, /file_path must not be empty/);
    await expectError(registerRaw(c, { sessionId: 'no-such-id', backpressure: 3 }), INVALID, /backpressure must be/);
    await expectError(registerRaw(c, { sessionId: id, stream: pb.TeeStreamKind.TEE_STREAM_KIND_PTY_OUTPUT }), INVALID, /stream TEE_STREAM_KIND_PTY_OUTPUT \(1\) is not valid for a PIPE session; use one of .*STDOUT/);
    await expectError(registerRaw(c, { sessionId: id, stream: 0 }), INVALID, /stream TEE_STREAM_KIND_UNSPECIFIED/);
    await expectError(registerRaw(c, { sessionId: id, stream: 12 }), INVALID, /stream 12 is not valid/);
    await expectError(registerRaw(c, { sessionId: id, sinkKind: 0 }), INVALID, /only file sinks are supported.*TEE_SINK_KIND_UNSPECIFIED/);
    await expectError(registerRaw(c, { sessionId: id, sinkKind: 5 }), INVALID, /only file sinks are supported.*got sink_kind 5/);
    await expectError(registerRaw(c, { sessionId: id, filePath: Buffer.alloc(0) }), INVALID, /file_path must not be empty/);
    await expectError(registerRaw(c, { sessionId: id, filePath: Buffer.from(`${dir}/missing/out.log`), fileMode: 0 }), INVALID,
      new RegExp(`${dir}/missing/out.log.*ENOENT`));
    await expectError(registerRaw(c, { sessionId: id, filePath: Buffer.from(dir) }), INVALID, /EISDIR/);
    await expectError(registerRaw(c, { sessionId: id, fileMode: 7 }), INVALID, /file_mode must be .*got 7/);
    await expectError(registerRaw(c, { sessionId: id, backpressure: 3 }), INVALID, /backpressure must be .*got 3/);
    await expectError(registerRaw(c, { sessionId: merged, stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDERR }), INVALID, /no separate stderr stream/);
    // An exited session has nothing left to tee.
    await c.writeStdin(id, 'go\n');
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === id)?.exited, 'session exited');
    await expectError(registerRaw(c, { sessionId: id, filePath: Buffer.from(`${dir}/late.log`) }), INVALID, /has exited/);
    await c.writeStdin(merged, 'go\n');
  });

  it('UnregisterSessionTee and GetSessionTeeStatus: unknown session or handle is NOT_FOUND, bad ids, kinds and handle 0 INVALID_ARGUMENT (checked first)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const id = await gatedSession(c, 'true');
    for (const [type, key] of [
      [RequestType.REQUEST_TYPE_UNREGISTER_SESSION_TEE, 'unregisterSessionTee'],
      [RequestType.REQUEST_TYPE_GET_SESSION_TEE_STATUS, 'getSessionTeeStatus'],
    ] as const) {
      const send = (fields: Record<string, unknown>) => c.send(type, key, { sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PIPE, teeHandle: 1, ...fields });
      await expectError(send({ sessionId: '' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /session_id is required/);
      await expectError(send({ sessionId: 'nope' }), StatusCode.STATUS_CODE_NOT_FOUND, /no session with id "nope"/);
      await expectError(send({ sessionId: id, sessionKind: 0 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /session_kind/);
      await expectError(send({ sessionId: id, sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PTY }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /is a PIPE session/);
      await expectError(send({ sessionId: id, teeHandle: 1 }), StatusCode.STATUS_CODE_NOT_FOUND, /has no tee with handle 1/);
      await expectError(send({ sessionId: id, teeHandle: 0 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /tee_handle is required/);
      await expectError(send({ sessionId: 'nope', teeHandle: 0 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /tee_handle is required/);
    }
    await c.writeStdin(id, 'go\n');
  });
});
