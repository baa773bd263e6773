// Black-box tests of pipe-session I/O: byte-exact output, env/cwd, stdin, attach rules, missed bytes.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { StatusCode } from '../../src/wire/proto';
import '../../src/client/sessions-api';
import { collect, expectDaemonError, pgrpOf, py } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('pipe session output', () => {
  it('passes 10 MB of random bytes through cat byte for byte, in frames of at most 64 KiB', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPipe({ argv: ['cat'] });
    const att = await c.attachPipe(sessionId);
    const input = randomBytes(10 * 1024 * 1024);
    const reading = collect(att);
    const CHUNK = 1024 * 1024;
    let written = 0;
    for (let off = 0; off < input.length; off += CHUNK) {
      const part = input.subarray(off, off + CHUNK);
      written += await c.writeStdin(sessionId, part, { close: off + CHUNK >= input.length });
    }
    expect(written).toBe(input.length);
    const got = await reading;
    expect(got.missed).toBe(0);
    expect(got.data.length).toBe(input.length);
    expect(sha256(got.data)).toBe(sha256(input));
    expect(got.maxChunk).toBeLessThanOrEqual(64 * 1024);
    expect(got.terminal).toEqual({ kind: 'exit', code: 0 });
    expect(got.afterTerminal).toBe(0);
  });

  it('gives the child its own process group, a UUID v4 id and the session marks in its environment', async () => {
    daemon = await startDaemon({ args: ['--env', 'LAYER=daemon', '--env', 'KEEP=yes'] });
    const c = daemon.client;
    const s = await c.spawnPipe({
      argv: py('import os,sys,time; print(os.environ.get("RUNPM_SESSION_ID"), os.environ.get("RUNNING_PROCESS_ORIGINATOR"), os.environ["LAYER"], os.environ["KEEP"], os.getcwd(), flush=True); sys.stdin.read()'),
      env: [{ key: 'LAYER', value: 'first' }, { key: 'LAYER', value: 'last' }],
      originator: 'agent-x',
      cwd: os.tmpdir(),
    });
    expect(s.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(pgrpOf(s.pid)).toBe(s.pid);
    const line = await waitFor(async () => {
      const text = (await c.backlog(s.sessionId)).backlog.toString();
      return text.endsWith('\n') ? text : '';
    }, 'child output');
    expect(line.trim()).toBe(`${s.sessionId} agent-x last yes ${fs.realpathSync(os.tmpdir())}`);
    await c.writeStdin(s.sessionId, '', { close: true });
  });

  it('replaces the environment with clear_inherited_env', async () => {
    daemon = await startDaemon({ args: ['--env', 'DEFAULTED=1'] });
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['/usr/bin/env'], env: { ONLY: 'me' }, clearInheritedEnv: true, originator: 'o' });
    const att = await c.attachPipe(s.sessionId);
    const got = await collect(att);
    const keys = got.data.toString().trim().split('\n').map((l) => l.split('=')[0]).sort();
    expect(keys).toEqual(['ONLY', 'RUNNING_PROCESS_ORIGINATOR', 'RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE']);
  });

  it('attaches stdout and stderr of one session from two different clients', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const other = await daemon.connect({ clientName: 'second' });
    const s = await c.spawnPipe({ argv: py('import sys; sys.stdin.readline(); sys.stdout.write("to-out"); sys.stderr.write("to-err")') });
    const out = await c.attachPipe(s.sessionId, { stream: 'stdout' });
    const err = await other.attachPipe(s.sessionId, { stream: 'stderr' });
    const list = await c.listPipes();
    expect(list[0]).toMatchObject({ stdoutAttached: true, stderrAttached: true });
    await c.writeStdin(s.sessionId, 'go\n');
    const [o, e] = await Promise.all([collect(out), collect(err)]);
    expect(o.data.toString()).toBe('to-out');
    expect(e.data.toString()).toBe('to-err');
    expect(o.terminal).toEqual({ kind: 'exit', code: 0 });
    expect(e.terminal).toEqual({ kind: 'exit', code: 0 });
  });

  it('spawns attached to one stream in one request: every byte from the first, the slot held, the exit', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // Prints at once, before any separate attach could be made: nothing may be missed.
    const quick = await c.spawnPipeAttached({ argv: ['sh', '-c', 'printf FIRST; printf ERR >&2; exit 4'] });
    expect(quick.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const got = await collect(quick.attachment);
    expect(got.data.toString()).toBe('FIRST');
    expect(got.missed).toBe(0);
    expect(got.terminal).toEqual({ kind: 'exit', code: 4 });
    expect((await c.backlog(quick.sessionId, { stream: 'stderr' })).backlog.toString()).toBe('ERR');

    const s = await c.spawnPipeAttached({ argv: py('import sys; sys.stdin.readline(); sys.stderr.write("to-err")') }, { stream: 'stderr' });
    await expectDaemonError(c.attachPipe(s.sessionId, { stream: 'stderr' }), StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already attached/);
    expect((await c.listPipes()).find((x) => x.sessionId === s.sessionId)).toMatchObject({ stdoutAttached: false, stderrAttached: true });
    await c.writeStdin(s.sessionId, 'go\n');
    const e = await collect(s.attachment);
    expect(e.data.toString()).toBe('to-err');
    expect(e.terminal).toEqual({ kind: 'exit', code: 0 });
  });

  it('merges stderr into stdout when asked, and refuses to attach the merged stderr', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'echo a; echo b >&2; read x'], mergeStderr: true });
    await expectDaemonError(c.attachPipe(s.sessionId, { stream: 'stderr' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /merges stderr/);
    await expectDaemonError(c.backlog(s.sessionId, { stream: 'stderr' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /merges stderr/);
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString() === 'a\nb\n', 'merged output');
    expect((await c.listPipes())[0]!.mergeStderrIntoStdout).toBe(true);
    await c.writeStdin(s.sessionId, '\n', { close: true });
  });

  it('sends a live (lossy) client that stopped reading one exact missed_bytes and continues from the oldest byte', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', '65536'] });
    const c = daemon.client;
    const TOTAL = 24 * 1024 * 1024;
    // Byte i of the output is i % 251, so every received byte can be checked against its offset.
    const s = await c.spawnPipe({ argv: py(`import sys; sys.stdin.readline(); pat = bytes(i % 251 for i in range(251 * 4096)); n = ${TOTAL}; o = sys.stdout.buffer
while n > 0:
    k = min(n, len(pat)); o.write(pat[:k]); n -= k`) });
    // flow live: the v1 behaviour a dashboard asks for (the child never waits for this reader).
    const att = await c.attachPipe(s.sessionId, { flow: 'live' });
    await c.writeStdin(s.sessionId, 'go\n');
    // Do not read until the child is done: the socket backs up and the ring overtakes the cursor.
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'child exit', 15_000);
    let offset = 0;
    let missedFrames = 0;
    let previous = '';
    let missed = 0;
    let delivered = 0;
    let terminal = null;
    for await (const f of att) {
      if (f.kind === 'bytes') {
        for (let i = 0; i < f.data.length; i += 997) expect(f.data[i]).toBe((offset + i) % 251);
        offset += f.data.length;
        delivered += f.data.length;
      } else if (f.kind === 'missed') {
        // One frame per overtaking: never two in a row, always followed by the oldest retained bytes.
        expect(previous).not.toBe('missed');
        missedFrames++;
        missed += f.bytes;
        offset += f.bytes;
      } else terminal = f;
      previous = f.kind;
    }
    expect(terminal).toEqual({ kind: 'exit', code: 0 });
    expect(missedFrames).toBeGreaterThanOrEqual(1);
    expect(missed).toBeGreaterThan(0);
    expect(delivered + missed).toBe(TOTAL);
  });
});

describe('attach rules', () => {
  it('refuses a second attach with ALREADY_ATTACHED, and a steal evicts the first with stolen_by', async () => {
    daemon = await startDaemon();
    const first = await daemon.connect({ clientName: 'first-client' });
    const thief = await daemon.connect({ clientName: 'thief-client' });
    const s = await first.spawnPipe({ argv: ['cat'] });
    const a1 = await first.attachPipe(s.sessionId);
    await expectDaemonError(thief.attachPipe(s.sessionId), StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already attached by first-client/);
    await first.writeStdin(s.sessionId, 'one\n');
    expect(await a1.next()).toEqual({ kind: 'bytes', data: Buffer.from('one\n') });
    const a2 = await thief.attachPipe(s.sessionId, { steal: true });
    expect(a2.backlog.length).toBe(0);
    const evicted = await collect(a1);
    expect(evicted.terminal).toMatchObject({ kind: 'stolen' });
    expect((evicted.terminal as { by: string }).by).toMatch(/^thief-client/);
    await first.writeStdin(s.sessionId, 'two\n', { close: true });
    const stolen = await collect(a2);
    expect(stolen.data.toString()).toBe('two\n');
    expect(stolen.terminal).toEqual({ kind: 'exit', code: 0 });
  });

  it('detaches with error "detached" while the session keeps running and filling its ring', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['cat'] });
    const att = await c.attachPipe(s.sessionId);
    await c.writeStdin(s.sessionId, 'seen\n');
    expect(await att.next()).toEqual({ kind: 'bytes', data: Buffer.from('seen\n') });
    await c.detachPipe(s.sessionId);
    const rest = await collect(att);
    expect(rest.terminal).toEqual({ kind: 'detached' });
    expect((await c.listPipes())[0]).toMatchObject({ exited: false, stdoutAttached: false });
    await c.writeStdin(s.sessionId, 'unseen\n');
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString() === 'unseen\n', 'backlog of what the detached client missed');
    // GetSessionBacklog consumed nothing: the next attach replays the same bytes.
    const again = await c.attachPipe(s.sessionId);
    expect(again.backlog.toString()).toBe('unseen\n');
    expect(again.backlogTruncated).toBe(false);
    again.close();
    await c.terminate(s.sessionId, 100);
  });

  it('answers an attach to an exited session with its backlog and then the terminal frame at once', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'printf "final words"; exit 7'] });
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'exit');
    const att = await c.attachPipe(s.sessionId);
    expect(att.backlog.toString()).toBe('final words');
    const got = await collect(att);
    expect(got.frames).toEqual([{ kind: 'exit', code: 7 }]);
    const b = await c.backlog(s.sessionId);
    expect(b).toMatchObject({ sessionKind: 'pipe', exited: true, exitCode: 7 });
    expect(b.backlog.length).toBe(0);
  });

  it('reports truncation for this attach only, with the exact count of dropped bytes', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', '4096'] });
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: py('import sys; sys.stdout.write("x" * 10000)') });
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'exit');
    const b = await c.backlog(s.sessionId);
    expect(b.bytesMissed).toBe(10000 - 4096);
    const att = await c.attachPipe(s.sessionId);
    expect(att.backlog.length).toBe(4096);
    expect(att.bytesMissed).toBe(10000 - 4096);
    expect(att.backlogTruncated).toBe(true);
    await collect(att);
    const again = await c.attachPipe(s.sessionId);
    expect(again.backlogTruncated).toBe(false);
    expect(again.bytesMissed).toBe(0);
    expect(again.backlog.length).toBe(0);
    await collect(again);
  });
});

describe('stdin', () => {
  it('returns bytes_written, closes after the bytes, and refuses writes after close or exit', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // The child outlives its stdin (sleep), so "closed" is what the next write must hear.
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'cat; exec sleep 30'] });
    expect(await c.writeStdin(s.sessionId, 'abc')).toBe(3);
    expect(await c.writeStdin(s.sessionId, 'de', { close: true })).toBe(2);
    await expectDaemonError(c.writeStdin(s.sessionId, 'x'), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /stdin of session .* is closed/);
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString() === 'abcde', 'cat to echo every byte written');
    await c.terminate(s.sessionId, 100);
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'exit after terminate');
    await expectDaemonError(c.writeStdin(s.sessionId, 'x'), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /has exited/);
  });

  it('holds the answer back while the child does not read (backpressure), then completes', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // The child reads nothing until it gets SIGUSR1.
    const s = await c.spawnPipe({ argv: py('import signal,sys; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1]); print("ready", flush=True); signal.sigwait([signal.SIGUSR1]); print(len(sys.stdin.buffer.read()))') });
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.toString() === 'ready\n', 'child ready');
    const big = Buffer.alloc(3 * 1024 * 1024, 0x41);
    let done = false;
    const write = c.writeStdin(s.sessionId, big, { close: true }).then((n) => { done = true; return n; });
    // A 64 KiB pipe cannot have taken 3 MiB from a child that does not read.
    const other = await daemon.connect();
    await other.ping();
    expect((await other.listPipes())[0]!.exited).toBe(false);
    expect(done).toBe(false);
    process.kill(s.pid, 'SIGUSR1');
    expect(await write).toBe(big.length);
    await waitFor(async () => (await c.listPipes())[0]!.exited, 'exit');
    expect((await c.backlog(s.sessionId)).backlog.toString()).toBe(`ready\n${big.length}\n`);
  });
});
