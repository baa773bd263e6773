// The wire fuzz runner shared by the CI test (5,000 inputs) and the soak run (100,000): batches
// of concurrent fuzzed connections against one real daemon, a watchdog client pinging on its own
// connection throughout, and after every batch a liveness check (same pid, PING on a new connection).
import * as fs from 'node:fs';
import * as net from 'node:net';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';
import { decodeResponse } from '../../src/wire/envelope';
import { StatusCode, type DaemonResponse } from '../../src/wire/proto';
import { connect } from '../../src/client/connect';
import { isAlive, waitFor, type TestDaemon } from '../helpers/daemon';
import { connectionArb, rawStreamArb, streamCaseArb, type FuzzConnection, type FuzzOptions, type RawStream, type StreamCase } from './fuzz-gen';

export interface FuzzRunOptions extends FuzzOptions {
  /** Stop once at least this many inputs (frames, raw streams, stream inputs) were sent. */
  inputs: number;
  framesPerConnection: number;
  connectionsPerBatch: number;
  seed: number;
  /** Deadline for each watchdog ping and for each connection's answers. */
  deadlineMs: number;
}

export interface FuzzFigures {
  seed: number;
  inputs: number;
  connections: number;
  batches: number;
  /** Complete frames the daemon received on connections we then waited on. */
  framesExpected: number;
  responses: number;
  /** Connections the daemon closed for a frame error (oversize length), as expected. */
  closedForFrameErrors: number;
  byCode: Record<string, number>;
  /** Messages of INTERNAL answers: a handler threw something it should have validated. */
  internal: string[];
  watchdogPings: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
}

type Scenario = { kind: 'framed'; conn: FuzzConnection } | { kind: 'raw'; raw: RawStream } | { kind: 'stream'; stream: StreamCase };

/** Resident set size of a process, bytes. */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

/** A socket that collects response frame bodies (decoded lazily: stream frames are not responses). */
class FuzzSocket {
  readonly bodies: Buffer[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder((b) => this.bodies.push(b), Number.MAX_SAFE_INTEGER);
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.decoder.push(c));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static open(socketPath: string): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(new FuzzSocket(s)));
      s.once('error', reject);
    });
  }

  /** Writes the bytes cut at the given fractions (frames split across writes). */
  writeSplit(bytes: Buffer, splits: number[]): void {
    const cuts = [...new Set(splits.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (cut > at) this.socket.write(bytes.subarray(at, cut));
      at = Math.max(at, cut);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** How many complete frames the daemon will decode from bytes, and whether it then hits an oversize length. */
function framesIn(bytes: Buffer, maxFrameBytes: number): { frames: number; oversize: boolean } {
  let frames = 0;
  const decoder = new FrameDecoder(() => frames++, maxFrameBytes);
  try {
    decoder.push(bytes);
    return { frames, oversize: false };
  } catch {
    return { frames, oversize: true };
  }
}

function scenarioArb(opts: FuzzRunOptions): fc.Arbitrary<Scenario> {
  return fc.oneof(
    { weight: 8, arbitrary: connectionArb(opts, opts.framesPerConnection).map((conn) => ({ kind: 'framed' as const, conn })) },
    { weight: 1, arbitrary: rawStreamArb(opts).map((raw) => ({ kind: 'raw' as const, raw })) },
    { weight: 1, arbitrary: streamCaseArb(opts).map((stream) => ({ kind: 'stream' as const, stream })) },
  );
}

/** Runs the fuzz against `daemon` (started with --max-frame-bytes opts.maxFrameBytes); returns the figures. */
export async function runWireFuzz(daemon: TestDaemon, opts: FuzzRunOptions): Promise<FuzzFigures> {
  const figures: FuzzFigures = {
    seed: opts.seed, inputs: 0, connections: 0, batches: 0, framesExpected: 0, responses: 0, closedForFrameErrors: 0,
    byCode: {}, internal: [], watchdogPings: 0, rssBeforeBytes: rssOf(daemon.pid), rssPeakBytes: 0, rssAfterBytes: 0,
  };
  const socketPath = daemon.paths.socketPath;
  const countResponse = (r: DaemonResponse) => {
    figures.responses++;
    const name = StatusCode[r.code] ?? `UNKNOWN_CODE_${r.code}`;
    figures.byCode[name] = (figures.byCode[name] ?? 0) + 1;
    if (r.code === StatusCode.STATUS_CODE_INTERNAL && figures.internal.length < 20) figures.internal.push(r.message);
  };

  // The watchdog: another client whose pings must keep being answered within the deadline.
  const watchdog = await connect({ socket: socketPath, autoStart: false, callTimeoutMs: opts.deadlineMs });
  let watching = true;
  let watchdogError: Error | null = null;
  const watchdogLoop = (async () => {
    while (watching) {
      try {
        await watchdog.ping();
        figures.watchdogPings++;
      } catch (err) {
        watchdogError = err as Error;
        return;
      }
      await new Promise((r) => setTimeout(r, 5)); // watchdog poll pacing, each ping has its own deadline
    }
  })();

  const runFramed = async (conn: FuzzConnection) => {
    const stream = Buffer.concat([...conn.frames.map((f) => encodeFrame(f.body)), conn.tail]);
    const fate = framesIn(stream, opts.maxFrameBytes);
    const expected = fate.frames + (fate.oversize ? 1 : 0);
    const s = await FuzzSocket.open(socketPath);
    try {
      s.writeSplit(stream, conn.splits);
      await waitFor(() => s.bodies.length >= expected || (fate.oversize && s.closed),
        `${expected} answers on a fuzzed connection (got ${s.bodies.length})`, opts.deadlineMs);
      if (fate.oversize) await waitFor(() => s.closed, 'the daemon to close a connection after an oversize length', opts.deadlineMs);
      const responses = s.bodies.map((b) => decodeResponse(b));
      if (responses.length !== expected) throw new Error(`fuzzed connection: expected ${expected} answers, got ${responses.length}`);
      responses.forEach(countResponse);
      figures.framesExpected += fate.frames;
      // Answers come back in request order, echoing the ids we could predict.
      for (let i = 0; i < fate.frames; i++) {
        const id = conn.frames[i].expectId;
        if (id !== null && Number(responses[i].requestId) !== id) {
          throw new Error(`answer ${i} has request_id ${responses[i].requestId}, expected ${id} (code ${responses[i].code}: ${responses[i].message})`);
        }
      }
      if (fate.oversize) {
        figures.closedForFrameErrors++;
        const last = responses[responses.length - 1];
        if (last.code !== StatusCode.STATUS_CODE_INVALID_ARGUMENT || Number(last.requestId) !== 0) {
          throw new Error(`oversize length answered with code ${last.code} id ${last.requestId}: ${last.message}`);
        }
      }
      figures.inputs += conn.frames.length + (conn.ending === 'clean' ? 0 : 1);
    } finally {
      s.close();
    }
  };

  const runRaw = async (raw: RawStream) => {
    const expected = raw.frames + (raw.oversize ? 1 : 0);
    const s = await FuzzSocket.open(socketPath);
    try {
      s.socket.write(raw.bytes);
      await waitFor(() => s.bodies.length >= expected, `${expected} answers to a raw byte stream (got ${s.bodies.length})`, opts.deadlineMs);
      if (raw.oversize) {
        await waitFor(() => s.closed, 'the daemon to close a raw stream with an oversize length', opts.deadlineMs);
        figures.closedForFrameErrors++;
      }
      s.bodies.map((b) => decodeResponse(b)).forEach(countResponse);
      figures.framesExpected += raw.frames;
      figures.inputs += 1;
    } finally {
      s.close();
    }
  };

  const runStream = async (c: StreamCase) => {
    const s = await FuzzSocket.open(socketPath);
    try {
      s.socket.write(encodeFrame(c.request));
      for (const input of c.inputs) s.socket.write(encodeFrame(input));
      await waitFor(() => s.bodies.length >= 1, 'the answer to a stream request', opts.deadlineMs);
      const first = decodeResponse(s.bodies[0]);
      // A request over the frame limit (huge random strings) is a frame error: id 0, then close.
      const oversize = c.request.length > opts.maxFrameBytes;
      const wantId = oversize ? 0 : c.id;
      if (Number(first.requestId) !== wantId) {
        throw new Error(`stream request ${c.id} (${c.request.length} bytes) answered with request_id ${first.requestId} (code ${first.code}: ${first.message})`);
      }
      if (oversize) {
        await waitFor(() => s.closed, 'the daemon to close a connection after an oversize stream request', opts.deadlineMs);
        figures.closedForFrameErrors++;
      }
      countResponse(first);
      figures.framesExpected += 1;
      figures.inputs += 1 + c.inputs.length;
    } finally {
      s.close();
    }
  };

  try {
    for (let batch = 0; figures.inputs < opts.inputs; batch++) {
      const scenarios = fc.sample(scenarioArb(opts), { numRuns: opts.connectionsPerBatch, seed: opts.seed + batch });
      await Promise.all(scenarios.map((sc) => {
        figures.connections++;
        if (sc.kind === 'framed') return runFramed(sc.conn);
        if (sc.kind === 'raw') return runRaw(sc.raw);
        return runStream(sc.stream);
      }));
      figures.batches++;
      // After every batch: the same daemon process is alive and answers a new connection.
      if (!isAlive(daemon.pid) || daemon.proc.exitCode !== null) throw new Error(`runpmd (pid ${daemon.pid}) died in batch ${batch}: ${daemon.stderr().slice(-2000)}`);
      const probe = await connect({ socket: socketPath, autoStart: false, callTimeoutMs: opts.deadlineMs });
      try {
        await probe.ping();
      } finally {
        probe.close();
      }
      if (watchdogError) throw new Error(`the watchdog client was not answered within ${opts.deadlineMs} ms: ${(watchdogError as Error).message}`);
      figures.rssPeakBytes = Math.max(figures.rssPeakBytes, rssOf(daemon.pid));
    }
  } finally {
    watching = false;
    await watchdogLoop;
    watchdog.close();
  }
  if (watchdogError) throw new Error(`the watchdog client failed: ${(watchdogError as Error).message}`);
  figures.rssAfterBytes = rssOf(daemon.pid);
  return figures;
}

/** One line of figures for the test log. */
export function describeFigures(f: FuzzFigures): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  return `fuzz seed ${f.seed}: ${f.inputs} inputs on ${f.connections} connections (${f.batches} batches), ${f.framesExpected} frames, `
    + `${f.responses} answers, ${f.closedForFrameErrors} closed for frame errors, ${f.watchdogPings} watchdog pings; `
    + `RSS ${mib(f.rssBeforeBytes)} → peak ${mib(f.rssPeakBytes)} → ${mib(f.rssAfterBytes)}; codes ${JSON.stringify(f.byCode)}`;
}
