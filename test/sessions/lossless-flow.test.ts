// Black-box tests of issue 15.1 and 15.5: an attached reader that keeps reading gets every byte (the
// child waits for it instead), through the library and through `runpm output --follow | sha256sum`;
// a reader that stops is cut loose after its stall timeout with exact missed bytes while the session
// runs on and the daemon's memory stays bounded; live mode keeps the old lossy behaviour; a PTY flood
// reaches an attached client whole.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { followHashRuns } from './follow-hash';
import '../../src/client/sessions-api';
import '../../src/client/output-api';
import '../../src/client/events-api';
import '../../src/client/pty-api';
import { py } from './helpers';

let daemon: TestDaemon | null = null;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await daemon?.stop();
  daemon = null;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of a process, bytes (from /proc). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Writes `total` bytes of the pattern i % 251 after a line on stdin, as fast as the pipe takes them. */
const GATED_PATTERN_WRITER = (total: number) => py(`import sys; sys.stdin.readline(); pat = bytes(i % 251 for i in range(251 * 1024)); n = ${total}; o = sys.stdout.buffer
while n > 0:
    k = min(n, len(pat)); o.write(pat[:k]); n -= k
o.flush()`);

/** Writes the pattern forever after a line on stdin. */
const ENDLESS_WRITER = py(`import sys; sys.stdin.readline(); pat = bytes(i % 251 for i in range(251 * 1024)); o = sys.stdout.buffer
while True: o.write(pat)`);

describe('lossless attach (pipe)', () => {
  it('a reader that sleeps 2 ms per 64 KiB gets every byte; the child is slowed to its pace instead', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const TOTAL = 32 * 1024 * 1024;
    const { sessionId } = await c.spawnPipe({ argv: GATED_PATTERN_WRITER(TOTAL) });
    const att = await c.attachPipe(sessionId, { fromOffset: 0 });
    // The client library keeps up to 64 frames (4 MiB) ahead of its reader by default: bound it, so
    // what the child can run ahead is the daemon's and the kernel's buffers.
    att.limitBufferedBytes(256 * 1024);
    await c.writeStdin(sessionId, 'go\n');
    let got = 0;
    let missed = 0;
    let sinceSleep = 0;
    /** [time, bytes received by then], one per frame: how far the reader was when the child exited. */
    const progress: Array<[number, number]> = [];
    const hash = createHash('sha256');
    const expected = createHash('sha256');
    let terminal = '';
    const pat = Buffer.from(Array.from({ length: 251 * 1024 }, (_, i) => i % 251));
    for (let left = TOTAL; left > 0; left -= pat.length) expected.update(pat.subarray(0, Math.min(left, pat.length)));
    for await (const f of att) {
      if (f.kind === 'bytes') {
        hash.update(f.data);
        got += f.data.length;
        progress.push([Date.now(), got]);
        sinceSleep += f.data.length;
        if (sinceSleep >= 64 * 1024) {
          sinceSleep = 0;
          await sleep(2); // the slow reader under test, not a synchronisation
        }
      } else if (f.kind === 'missed') missed += f.bytes;
      else {
        terminal = f.kind === 'exit' ? `exit ${f.code}` : f.kind;
        break;
      }
    }
    expect(missed).toBe(0);
    expect(got).toBe(TOTAL);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(terminal).toBe('exit 0');
    // The child ran ahead of the reader by at most what the daemon buffers (1 MiB ring + 1 MiB socket
    // budget), the kernel's pipe and socket buffers and the client's 256 KiB: it waited for the
    // reader instead of racing on (unheld it finishes 32 MiB long before the reader has 6).
    const exitedAtMs = (await c.listPipes()).find((r) => r.sessionId === sessionId)!.exitedAt * 1000;
    const receivedAtExit = progress.filter(([t]) => t <= exitedAtMs).pop()?.[1] ?? 0;
    expect(TOTAL - receivedAtExit).toBeLessThan(6 * 1024 * 1024);
  });

  it('cuts a reader that stops reading loose after its stall timeout: exact missed_bytes, the session runs on, daemon RSS bounded', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const events = await c.subscribeEvents({ kinds: ['session.stalled'] });
    cleanups.push(() => events.close());
    const { sessionId } = await c.spawnPipe({ argv: ENDLESS_WRITER });
    cleanups.push(() => void c.terminate(sessionId, 0, { signal: 'KILL' }).catch(() => undefined));
    // This reader never calls next(): its socket is paused, as a SIGSTOPped process's would be.
    const att = await c.attachPipe(sessionId, { fromOffset: 0, stallTimeoutMs: 600 });
    const rssBefore = rssOf(daemon.pid);
    const stalledAt = { t: 0, total: 0 };
    const attachedAt = Date.now();
    await c.writeStdin(sessionId, 'go\n');
    const stalled = (async () => {
      for await (const e of events) {
        if (e.sessionId === sessionId) return e;
      }
      return null;
    })();
    // What the child had produced while held: the last total read before the stall was told (a
    // read after it races the released child, which writes megabytes per millisecond).
    let told = false;
    const sampler = (async () => {
      while (!told) {
        const total = (await c.readOutput(sessionId, { maxBytes: 1 })).totalBytes;
        if (!told) stalledAt.total = total;
      }
    })();
    const e = await stalled;
    told = true;
    stalledAt.t = Date.now();
    await sampler;
    expect(e?.detail).toMatch(/no progress for 600 ms: switched to drop-oldest/);
    expect(stalledAt.t - attachedAt).toBeGreaterThanOrEqual(600);
    // Held until then: the child produced no more than the daemon and the kernel buffer for one reader.
    expect(stalledAt.total).toBeLessThan(8 * 1024 * 1024);
    // Then the session runs on: 100 MB more while the reader still reads nothing.
    let peakRss = 0;
    await waitFor(async () => {
      peakRss = Math.max(peakRss, rssOf(daemon!.pid));
      return (await c.readOutput(sessionId, { maxBytes: 1 })).totalBytes > stalledAt.total + 100 * 1024 * 1024;
    }, 'the session to run on after the reader was cut loose', 60_000, 50);
    expect(peakRss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    // The reader wakes up: what it gets plus what it missed is exactly the stream up to where it stops.
    let delivered = att.backlog.length;
    let missed = 0;
    let offset = 0;
    for await (const f of att) {
      if (f.kind === 'bytes') {
        expect(f.offset).toBe(offset);
        for (let i = 0; i < f.data.length; i += 4099) expect(f.data[i]).toBe((offset + i) % 251);
        delivered += f.data.length;
        offset += f.data.length;
      } else if (f.kind === 'missed') {
        missed += f.bytes;
        offset += f.bytes;
        expect(f.offset).toBe(offset);
      }
      if (missed > 0 && delivered > 4 * 1024 * 1024) break;
    }
    expect(missed).toBeGreaterThan(50 * 1024 * 1024);
    expect(att.missedTotal).toBe(missed);
    expect(att.position).toBe(delivered + missed);
  });

  it('live mode never holds the child: a reader that does not read misses bytes at once', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const TOTAL = 16 * 1024 * 1024;
    const { sessionId } = await c.spawnPipe({ argv: GATED_PATTERN_WRITER(TOTAL) });
    const att = await c.attachPipe(sessionId, { fromOffset: 0, flow: 'live' });
    await c.writeStdin(sessionId, 'go\n');
    // The child finishes although nobody reads (lossless would hold it at a ring and a socket budget).
    await waitFor(async () => (await c.listPipes()).find((r) => r.sessionId === sessionId)?.exited, 'the child to finish unheld', 20_000);
    let delivered = 0;
    let missed = 0;
    for await (const f of att) {
      if (f.kind === 'bytes') delivered += f.data.length;
      else if (f.kind === 'missed') missed += f.bytes;
    }
    expect(missed).toBeGreaterThan(0);
    expect(delivered + missed).toBe(TOTAL);
  });
});

describe('runpm output --follow | sha256sum', () => {
  it('gives the exact hash of 50 MB, 3 runs (10 in the soak: test/soak/lossless.soak.test.ts)', async () => {
    daemon = await startDaemon();
    const times = await followHashRuns(daemon, 3);
    expect(times).toHaveLength(3);
  });
});

describe('lossless attach (PTY)', () => {
  it('a flood of numbered lines reaches a slow attached client whole, in order, also across the exit while held', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // 4.2 MB (more than the ring, the socket budget and the kernel buffers hold) read at about 1 MB/s:
    // the child is held for most of it and exits while the daemon is
    // still not reading the PTY (longer than node-pty's 200 ms before it destroys the master's stream).
    const LINES = 300_000;
    const { sessionId } = await c.spawnPty({ argv: py(`import sys; sys.stdin.readline(); o = sys.stdout
for i in range(${LINES}): o.write("line %07d\\n" % i)
o.flush()`) });
    const att = await c.attachPty(sessionId, { fromOffset: 0 });
    const parts: Buffer[] = [];
    let missed = 0;
    let terminal = '';
    att.limitBufferedBytes(64 * 1024);
    att.write('go\n');
    for await (const f of att) {
      if (f.kind === 'output') {
        parts.push(Buffer.from(f.data));
        await sleep(f.data.length / 1024); // a terminal that draws slower than the child writes, ~1 MB/s
      } else if (f.kind === 'missed') missed += f.bytes;
      else {
        terminal = f.kind === 'exit' ? `exit ${f.code}` : f.kind;
        break;
      }
    }
    expect(missed).toBe(0);
    expect(terminal).toBe('exit 0');
    // The terminal echoes "go" and turns each \n into \r\n (onlcr).
    const text = Buffer.concat(parts).toString('latin1');
    const body = text.slice(text.indexOf('line 0000000'));
    const want = Array.from({ length: LINES }, (_, i) => `line ${String(i).padStart(7, '0')}\r\n`).join('');
    expect(body.length).toBe(want.length);
    expect(body === want).toBe(true);
  });
});
