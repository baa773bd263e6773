// Black-box tests of issue 15.2: absolute output offsets on the wire, reads that consume nothing,
// offset polling that concatenates exactly, attaches that resume at the client's own count, and the
// exit status (code and signal) with the output.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode } from '../../src/wire/proto';
import '../../src/client/sessions-api';
import '../../src/client/output-api';
import '../../src/client/pty-api';
import type { PipeAttachment } from '../../src/client/sessions-api';
import { expectDaemonError, py } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Byte i of the pattern output is i % 251: any byte can be checked against its offset. */
const patternOf = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));
const PATTERN_WRITER = (total: number) => `import sys; pat = bytes(i % 251 for i in range(251 * 400)); n = ${total}; o = sys.stdout.buffer
while n > 0:
    k = min(n, len(pat)); o.write(pat[:k]); n -= k
o.flush()`;

/** Reads an offset attachment until `until` bytes arrived or the stream ends; every frame's offset must be where the previous one ended. */
async function readFrames(att: PipeAttachment, until = Number.POSITIVE_INFINITY): Promise<{ data: Buffer; offsets: number[]; terminal: string | null }> {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let got = 0;
  let terminal: string | null = null;
  while (got < until) {
    const f = await att.next();
    if (!f) break;
    if (f.kind === 'bytes') {
      if (offsets.length > 0 && f.offset !== offsets[0]! + got) throw new Error(`frame at offset ${f.offset}, expected ${offsets[0]! + got}`);
      offsets.push(f.offset!);
      parts.push(Buffer.from(f.data));
      got += f.data.length;
    } else if (f.kind === 'missed') throw new Error(`unexpected missed frame: ${f.bytes}`);
    else {
      terminal = f.kind === 'exit' ? `exit ${f.code}` : f.kind;
      break;
    }
  }
  return { data: Buffer.concat(parts), offsets, terminal };
}

describe('output offsets and non-consuming reads', () => {
  it('readOutput consumes nothing: the same bytes, offsets and exit status every time; a v1 attach still gets its backlog', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPipe({ argv: ['sh', '-c', 'printf hello; printf oops >&2; exit 3'] });
    const first = await waitFor(async () => { const r = await c.readOutput(sessionId); return r.ended ? r : null; }, 'the stream to end');
    const again = await c.readOutput(sessionId);
    for (const r of [first, again]) {
      expect(r.output.toString()).toBe('hello');
      expect({ start: r.startOffset, end: r.endOffset, dropped: r.droppedBytes, total: r.totalBytes }).toEqual({ start: 0, end: 5, dropped: 0, total: 5 });
      expect({ exited: r.exited, exitCode: r.exitCode, signal: r.signal, ended: r.ended, kind: r.sessionKind }).toEqual({ exited: true, exitCode: 3, signal: null, ended: true, kind: 'pipe' });
    }
    expect((await c.readOutput(sessionId, { stream: 'stderr' })).output.toString()).toBe('oops');
    expect((await c.readOutput(sessionId, { fromOffset: 2 })).output.toString()).toBe('llo');
    expect((await c.readOutput(sessionId, { fromOffset: 1, maxBytes: 2 })).output.toString()).toBe('el');
    const atEnd = await c.readOutput(sessionId, { fromOffset: 5 });
    expect({ n: atEnd.output.length, start: atEnd.startOffset, ended: atEnd.ended }).toEqual({ n: 0, start: 5, ended: true });
    await expectDaemonError(c.readOutput(sessionId, { fromOffset: 6 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /from_offset 6 is past the end of stdout of session .* \(5 bytes so far\)/);
    // An attach from an offset consumes nothing either; the v1 backlog (what no client has seen) stays.
    const byOffset = await c.attachPipe(sessionId, { fromOffset: 0 });
    expect((await readFrames(byOffset)).data.toString()).toBe('hello');
    const v1 = await c.backlog(sessionId);
    expect(Buffer.from(v1.backlog).toString()).toBe('hello');
    expect({ start: Number(v1.startOffset), end: Number(v1.endOffset) }).toEqual({ start: 0, end: 5 });
  });

  it('polling readOutput from the last endOffset concatenates to the exact output, no gap, no repeat', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPipe({ argv: py('import sys, time\nfor i in range(300):\n    print(f"line {i:04d}", flush=True)\n    time.sleep(0.002)') });
    let offset = 0;
    const parts: Buffer[] = [];
    let polls = 0;
    for (;;) {
      const r = await c.readOutput(sessionId, { fromOffset: offset });
      polls++;
      expect(r.startOffset).toBe(offset);
      expect(r.droppedBytes).toBe(0);
      parts.push(r.output);
      offset = r.endOffset;
      if (r.ended) {
        expect(r.exitCode).toBe(0);
        break;
      }
      // The client's own polling interval (what a script's loop does), not a synchronisation.
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const expected = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('');
    expect(Buffer.concat(parts).toString()).toBe(expected);
    expect(polls).toBeGreaterThan(2);
  });

  it('says exactly how many bytes the ring dropped before the oldest one it holds', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', '65536'] });
    const c = daemon.client;
    const TOTAL = 200_000;
    const { sessionId } = await c.spawnPipe({ argv: py(PATTERN_WRITER(TOTAL)) });
    const r = await waitFor(async () => { const x = await c.readOutput(sessionId); return x.ended ? x : null; }, 'the stream to end');
    expect({ start: r.startOffset, end: r.endOffset, dropped: r.droppedBytes, total: r.totalBytes }).toEqual({ start: TOTAL - 65536, end: TOTAL, dropped: TOTAL - 65536, total: TOTAL });
    expect(r.output.equals(patternOf(TOTAL - 65536, 65536))).toBe(true);
    const mid = await c.readOutput(sessionId, { fromOffset: 1000 });
    expect({ start: mid.startOffset, dropped: mid.droppedBytes }).toEqual({ start: TOTAL - 65536, dropped: TOTAL - 65536 - 1000 });
  });

  it('an attach from an offset resumes exactly at the client\'s count: frames carry offsets, a reattach continues without gap or repeat', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const HALF = 100_000;
    // Writes HALF bytes, waits for a line on stdin, writes HALF more and exits 0.
    const { sessionId } = await c.spawnPipe({ argv: py(`import sys; pat = bytes(i % 251 for i in range(${2 * HALF})); o = sys.stdout.buffer
o.write(pat[:${HALF}]); o.flush(); sys.stdin.readline(); o.write(pat[${HALF}:]); o.flush()`) });
    await waitFor(async () => (await c.readOutput(sessionId)).totalBytes === HALF, 'the first half');
    const first = await c.attachPipe(sessionId, { fromOffset: 30_000 });
    expect({ start: first.startOffset, missed: first.bytesMissed, backlog: first.backlog.length }).toEqual({ start: 30_000, missed: 0, backlog: 0 });
    const a = await readFrames(first, 40_000);
    first.close();
    expect(a.offsets[0]).toBe(30_000);
    expect(first.position).toBe(30_000 + a.data.length);
    await c.writeStdin(sessionId, 'go\n');
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === sessionId)?.stdoutAttached === false, 'the first attach to be gone');
    const second = await c.attachPipe(sessionId, { fromOffset: first.position });
    const b = await readFrames(second);
    expect(b.offsets[0]).toBe(first.position);
    expect(b.terminal).toBe('exit 0');
    expect(Buffer.concat([a.data, b.data]).equals(patternOf(30_000, 2 * HALF - 30_000))).toBe(true);
    await expectDaemonError(c.attachPipe(sessionId, { fromOffset: 2 * HALF + 1 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /from_offset .* is past the end/);
  });

  it('refuses an unknown flow mode naming the field, before a spawn-attached child is started', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPipe({ argv: ['sleep', '30'] });
    await expectDaemonError(c.openStream(RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM, 'attachPipeStream', { sessionId, stream: 1, flow: 7 }),
      StatusCode.STATUS_CODE_INVALID_ARGUMENT, /^flow must be LOSSLESS or LIVE, got 7/);
    await expectDaemonError(c.openStream(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', { argv: ['sleep', '30'], attach: { stream: 1, flow: 9 } }),
      StatusCode.STATUS_CODE_INVALID_ARGUMENT, /^attach\.flow must be LOSSLESS or LIVE, got 9/);
    await expectDaemonError(c.openStream(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', { argv: ['sleep', '30'], attach: { flow: 5 } }),
      StatusCode.STATUS_CODE_INVALID_ARGUMENT, /^attach\.flow must be LOSSLESS or LIVE, got 5/);
    // Only the first session runs: the refused spawns started nothing.
    expect((await c.listPipes()).map((s) => s.sessionId)).toEqual([sessionId]);
    expect(await c.listPtys()).toEqual([]);
    await c.terminate(sessionId, 0, { signal: 'KILL' });
  });

  it('reports the signal that ended a session with its output', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPipe({ argv: ['sh', '-c', 'echo up; exec sleep 30'] });
    await waitFor(async () => (await c.readOutput(sessionId)).totalBytes === 3, 'the first line');
    await c.terminate(sessionId, 0, { signal: 'KILL' });
    const r = await waitFor(async () => { const x = await c.readOutput(sessionId); return x.ended ? x : null; }, 'the stream to end');
    expect({ out: r.output.toString(), exited: r.exited, code: r.exitCode, signal: r.signal }).toEqual({ out: 'up\n', exited: true, code: 137, signal: 'SIGKILL' });
  });
});
