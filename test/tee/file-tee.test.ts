// Unit tests of FileTee with an injected sink (held, slow or failing) and of the real file sink.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileTee } from '../../src/tee/file-tee';
import { openFileSink, TeeOpenError, skipBytes } from '../../src/tee/file-sink';
import { FakeSink } from './fake-sink';
import { checkAgainstStream, letters } from './check-stream';
import { waitFor } from '../helpers/daemon';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-tee-'));
  dirs.push(d);
  return d;
}

/** Feeds stream to tee in chunks of varying size; honours pause like a real source would. */
async function feed(tee: FileTee, stream: Buffer, flow: { paused: boolean; waiters: Array<() => void> } | null): Promise<void> {
  let pos = 0;
  let i = 0;
  while (pos < stream.length) {
    if (flow?.paused) await new Promise<void>((r) => flow.waiters.push(r));
    const n = Math.min(100 + ((i++ * 7919) % 5000), stream.length - pos);
    tee.write(stream.subarray(pos, pos + n));
    pos += n;
    if (i % 16 === 0) await new Promise((r) => setImmediate(r));
  }
}

function flowControl() {
  const state = { paused: false, pauses: 0, waiters: [] as Array<() => void> };
  return {
    state,
    flow: {
      pause: () => { state.paused = true; state.pauses++; },
      resume: () => { state.paused = false; for (const w of state.waiters.splice(0)) w(); },
    },
  };
}

describe('FileTee', () => {
  it('copies the stream in order and byte-exact; flushAndClose resolves after the last write', async () => {
    const sink = new FakeSink();
    const tee = new FileTee({ sink, mode: 'drop-oldest', capacityChunks: 0, capacityBytes: 0, markers: true });
    const stream = letters(300_000);
    await feed(tee, stream, null);
    await tee.flushAndClose();
    expect(sink.closed).toBe(true);
    expect(sink.bytes.equals(stream)).toBe(true);
    expect(tee.status()).toMatchObject({ missedBytes: 0, disconnected: false, streamBytes: stream.length, writtenBytes: stream.length });
  });

  it('DROP_OLDEST with a held sink: the producer never waits; file + missed = stream, markers at the drops', async () => {
    const sink = new FakeSink();
    sink.holding = true;
    const tee = new FileTee({ sink, mode: 'drop-oldest', capacityChunks: 4, capacityBytes: 0, markers: true });
    const stream = letters(500_000, 9);
    // Release the sink now and then while feeding synchronously: drops happen in between.
    let pos = 0;
    let k = 0;
    while (pos < stream.length) {
      const n = Math.min(1000 + (k * 131) % 3000, stream.length - pos);
      tee.write(stream.subarray(pos, pos + n));
      pos += n;
      if (++k % 25 === 0) {
        sink.release(true);
        await new Promise((r) => setImmediate(r));
      }
    }
    sink.release(false);
    await tee.flushAndClose();
    const st = tee.status();
    expect(st.missedBytes).toBeGreaterThan(0);
    const result = checkAgainstStream(sink.bytes, stream);
    expect(result.markers).toBeGreaterThan(1);
    expect(result.missedByMarkers).toBe(st.missedBytes);
    expect(result.written + st.missedBytes).toBe(stream.length);
    expect(st.writtenBytes).toBe(result.written);
  });

  it('DROP_OLDEST never asks the producer to pause', async () => {
    const sink = new FakeSink();
    sink.holding = true;
    const { state, flow } = flowControl();
    const tee = new FileTee({ sink, flow, mode: 'drop-oldest', capacityChunks: 1, capacityBytes: 0, markers: false });
    for (let i = 0; i < 100; i++) tee.write(Buffer.from('x'.repeat(100)));
    expect(state.pauses).toBe(0);
    sink.release();
    await tee.flushAndClose();
    expect(tee.status().missedBytes).toBe(100 * 100 - sink.bytes.length);
  });

  it('BLOCK pauses the producer when full, resumes after the drain, and never drops', async () => {
    const sink = new FakeSink();
    const { state, flow } = flowControl();
    const tee = new FileTee({ sink, flow, mode: 'block', capacityChunks: 3, capacityBytes: 20_000, markers: true });
    // A slow sink under test (injected write latency, not a wait on anything): every write takes a macrotask.
    const write = sink.write.bind(sink);
    sink.write = async (bufs) => { await new Promise((r) => setTimeout(r, 1)); return write(bufs); };
    const stream = letters(400_000, 3);
    await feed(tee, stream, state);
    await tee.flushAndClose();
    expect(state.pauses).toBeGreaterThan(0);
    expect(state.paused).toBe(false);
    expect(tee.status().missedBytes).toBe(0);
    expect(sink.bytes.equals(stream)).toBe(true);
  });

  it('a failing sink disconnects the tee, releases the pause, and later writes are ignored', async () => {
    const sink = new FakeSink();
    sink.holding = true;
    const { state, flow } = flowControl();
    let reported: Error | null = null;
    const tee = new FileTee({ sink, flow, mode: 'block', capacityChunks: 2, capacityBytes: 0, markers: true, onDisconnect: (e) => (reported = e) });
    tee.write(Buffer.from('first'));
    tee.write(Buffer.from('second'));
    tee.write(Buffer.from('third'));
    expect(state.paused).toBe(true);
    sink.failWith = 'ENOSPC';
    sink.release();
    await waitFor(() => tee.disconnected, 'tee disconnected');
    expect(state.paused).toBe(false);
    expect(reported!.message).toMatch(/ENOSPC/);
    const st = tee.status();
    expect(st.error).toMatch(/ENOSPC/);
    // The failed write's bytes and everything queued count as missed.
    expect(st.missedBytes).toBe('firstsecondthird'.length);
    expect(() => tee.write(Buffer.from('after'))).not.toThrow();
    await tee.flushAndClose();
    expect(sink.closed).toBe(true);
    expect(tee.status().streamBytes).toBe('firstsecondthird'.length);
  });

  it('end() flushes and closes by itself; writes after end are ignored', async () => {
    const sink = new FakeSink();
    const tee = new FileTee({ sink, mode: 'drop-oldest', capacityChunks: 0, capacityBytes: 0, markers: true });
    tee.write(Buffer.from('hello '));
    tee.write(Buffer.from('world'));
    tee.end();
    tee.write(Buffer.from('late'));
    await waitFor(() => sink.closed, 'sink closed');
    expect(sink.bytes.toString()).toBe('hello world');
  });
});

describe('file sink', () => {
  it('appends or truncates at an OS-native (non-UTF-8) path', async () => {
    const dir = tempDir();
    const p = Buffer.concat([Buffer.from(`${dir}/tee-`), Buffer.from([0xff, 0xfe]), Buffer.from('.log')]);
    fs.writeFileSync(p, 'old\n');
    let tee = new FileTee({ sink: await openFileSink(p, 'append'), mode: 'block', capacityChunks: 0, capacityBytes: 0, markers: true });
    tee.write(Buffer.from('new\n'));
    await tee.flushAndClose();
    expect(fs.readFileSync(p, 'utf8')).toBe('old\nnew\n');
    tee = new FileTee({ sink: await openFileSink(p, 'truncate'), mode: 'block', capacityChunks: 0, capacityBytes: 0, markers: true });
    tee.write(Buffer.from('only\n'));
    await tee.flushAndClose();
    expect(fs.readFileSync(p, 'utf8')).toBe('only\n');
  });

  it('a path that cannot be opened is a TeeOpenError naming the path and the OS reason', async () => {
    const dir = tempDir();
    const missing = Buffer.from(`${dir}/no-such-dir/out.log`);
    const err = await openFileSink(missing, 'append').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeeOpenError);
    expect((err as TeeOpenError).osCode).toBe('ENOENT');
    expect((err as Error).message).toContain(`${dir}/no-such-dir/out.log`);
    expect((err as Error).message).toMatch(/ENOENT \(no such file or directory\)/);
    const isDir = await openFileSink(Buffer.from(dir), 'append').catch((e: unknown) => e);
    expect((isDir as TeeOpenError).osCode).toBe('EISDIR');
  });

  it('a write error from the device (ENOSPC on /dev/full) disconnects the tee', async () => {
    const tee = new FileTee({ sink: await openFileSink(Buffer.from('/dev/full'), 'append'), mode: 'drop-oldest', capacityChunks: 0, capacityBytes: 0, markers: true });
    tee.write(Buffer.from('data'));
    await waitFor(() => tee.disconnected, 'disconnected');
    expect(tee.status().error).toMatch(/ENOSPC/);
    await tee.flushAndClose();
  });

  it('skipBytes resumes a short write at the right byte', () => {
    const bufs = [Buffer.from('abc'), Buffer.from('de'), Buffer.from('fgh')];
    expect(Buffer.concat(skipBytes(bufs, 0)).toString()).toBe('abcdefgh');
    expect(Buffer.concat(skipBytes(bufs, 4)).toString()).toBe('efgh');
    expect(Buffer.concat(skipBytes(bufs, 5)).toString()).toBe('fgh');
    expect(skipBytes(bufs, 8)).toEqual([]);
  });
});
