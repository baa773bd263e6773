// Memory probes of the per-connection bounds, shared by the CI test (small) and the soak (the sizes
// of the report): a client pipelining GET_SESSION_BACKLOG of a full ring without reading; many
// connections trickling 4 MiB frames; many connections pipelining requests without reading; many
// connections sending 3 bytes of a length prefix. Each reads the daemon's RSS before, at its peak
// and after the connections closed, and checks a normal client is served meanwhile.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import '../../src/client/index';
import { FrameDecoder, encodeFrame, encodeFrameHeader } from '../../src/wire/frame';
import { decodeResponse, encodeRequest } from '../../src/wire/envelope';
import { RequestType, StatusCode } from '../../src/wire/proto';
import { waitFor, type TestDaemon } from '../helpers/daemon';
import { rssOf } from './fuzz-run';

export interface ProbeFigures {
  probe: string;
  connections: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
  /** A normal client's PING while the probe's connections were open, ms. */
  pingDuringMs: number;
}

const MiB = 1024 * 1024;

function open(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Closes the sockets, then waits until the daemon counts only the helper's client. */
async function closeAll(daemon: TestDaemon, sockets: net.Socket[]): Promise<void> {
  for (const s of sockets) s.destroy();
  await waitFor(async () => (await daemon.client.status()).activeConnections <= 1, 'the probe connections to be released', 30_000);
}

async function timedPing(daemon: TestDaemon): Promise<number> {
  const c = await daemon.connect();
  const started = performance.now();
  await c.ping({ timeoutMs: 10_000 });
  const ms = performance.now() - started;
  c.close();
  return ms;
}

/** RSS now, after a round trip (what it holds, not what it is building). */
async function settledRss(daemon: TestDaemon): Promise<number> {
  await daemon.client.ping();
  return rssOf(daemon.pid);
}

/**
 * RSS once the probe's connections closed: the lowest value seen until it is back within
 * AFTER_SLACK_BYTES of `before`, or AFTER_WINDOW_MS passed (the daemon collects what the closed
 * connections held ~0.5 s after the last one; see memory-release.ts).
 */
async function rssAfter(daemon: TestDaemon, before: number): Promise<number> {
  let low = Infinity;
  await waitFor(() => {
    low = Math.min(low, rssOf(daemon.pid));
    return low - before <= AFTER_SLACK_BYTES;
  }, 'RSS to come back', AFTER_WINDOW_MS, 100).catch(() => undefined);
  return low;
}
const AFTER_SLACK_BYTES = 8 * MiB;
const AFTER_WINDOW_MS = 5000;

/**
 * Waits until the bytes the sockets still have to send stop changing for QUIET_POLLS polls in a
 * row: the daemon read all it will (it stopped reading those it holds back).
 */
async function untilQuiet(sockets: net.Socket[]): Promise<void> {
  let last = -1;
  let same = 0;
  await waitFor(() => {
    const pending = sockets.reduce((sum, s) => sum + (s.destroyed ? 0 : s.writableLength), 0);
    same = pending === last ? same + 1 : 0;
    last = pending;
    return same >= QUIET_POLLS;
  }, 'the daemon to read all it will of the probe connections', 60_000, 100);
}
const QUIET_POLLS = 5;

/** Samples the daemon's RSS every 20 ms until stopped; resolves with the highest value. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // The daemon is gone: the test fails elsewhere.
    }
  }, 20);
  return { stop: () => (clearInterval(timer), Math.max(peak, rssOf(pid))) };
}

/** A session whose stdout ring is full (ringBytes of output), for big backlog answers. */
async function fullRingSession(daemon: TestDaemon, ringBytes: number): Promise<string> {
  const { sessionId } = await daemon.client.spawnPipe({ argv: ['sh', '-c', `head -c ${ringBytes} /dev/zero | tr '\\0' x; sleep 600`] });
  await waitFor(async () => {
    const b = await daemon.client.backlog(sessionId);
    return b.backlog.length >= ringBytes;
  }, 'the ring to fill');
  return sessionId;
}

/** One connection pipelines `requests` GET_SESSION_BACKLOG of a full ring and never reads. */
export async function probeBacklogPipeline(daemon: TestDaemon, opts: { requests: number; ringBytes: number }): Promise<ProbeFigures> {
  const sessionId = await fullRingSession(daemon, opts.ringBytes);
  const before = await settledRss(daemon);
  const s = await open(daemon.paths.socketPath);
  const frames = Array.from({ length: opts.requests }, (_, i) => encodeFrame(encodeRequest({
    id: i + 1, type: RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, protocolVersion: 1,
    getSessionBacklog: { sessionId },
  })));
  s.pause(); // never read
  const sampler = sampleRss(daemon.pid);
  s.write(Buffer.concat(frames));
  await untilQuiet([s]);
  const pingDuringMs = await timedPing(daemon);
  await closeAll(daemon, [s]);
  const peak = sampler.stop();
  await daemon.client.terminate(sessionId, 0);
  return { probe: 'backlog pipeline', connections: 1, rssBeforeBytes: before, rssPeakBytes: peak, rssAfterBytes: await rssAfter(daemon, before), pingDuringMs };
}

/** `connections` connections each announce a 4 MiB frame and send `bodyBytes` of it, then stall. */
export async function probeTrickledFrames(daemon: TestDaemon, opts: { connections: number; bodyBytes: number }): Promise<ProbeFigures> {
  const before = await settledRss(daemon);
  const sampler = sampleRss(daemon.pid);
  const sockets: net.Socket[] = [];
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < opts.connections; i++) {
    const s = await open(daemon.paths.socketPath);
    s.on('error', () => {});
    sockets.push(s);
    s.write(encodeFrameHeader(4 * MiB));
    for (let sent = 0; sent < opts.bodyBytes; sent += chunk.length) s.write(chunk.subarray(0, Math.min(chunk.length, opts.bodyBytes - sent)));
  }
  await untilQuiet(sockets);
  const pingDuringMs = await timedPing(daemon);
  await closeAll(daemon, sockets);
  const peak = sampler.stop();
  return { probe: 'trickled 4 MiB frames', connections: opts.connections, rssBeforeBytes: before, rssPeakBytes: peak, rssAfterBytes: await rssAfter(daemon, before), pingDuringMs };
}

/** `connections` connections each pipeline `requests` STATUS requests and never read. */
export async function probePipelinedRequests(daemon: TestDaemon, opts: { connections: number; requests: number }): Promise<ProbeFigures> {
  const before = await settledRss(daemon);
  const sampler = sampleRss(daemon.pid);
  const sockets: net.Socket[] = [];
  for (let c = 0; c < opts.connections; c++) {
    const s = await open(daemon.paths.socketPath);
    s.on('error', () => {});
    s.pause();
    sockets.push(s);
    const frames = Array.from({ length: opts.requests }, (_, i) => encodeFrame(encodeRequest({ id: i + 1, type: RequestType.REQUEST_TYPE_STATUS, protocolVersion: 1, status: {} })));
    s.write(Buffer.concat(frames));
  }
  await untilQuiet(sockets);
  const pingDuringMs = await timedPing(daemon);
  await closeAll(daemon, sockets);
  const peak = sampler.stop();
  return { probe: 'pipelined requests, never read', connections: opts.connections, rssBeforeBytes: before, rssPeakBytes: peak, rssAfterBytes: await rssAfter(daemon, before), pingDuringMs };
}

/** `connections` connections send 3 bytes of a length prefix and nothing more. */
export async function probeHalfPrefixes(daemon: TestDaemon, opts: { connections: number }): Promise<ProbeFigures & { closedByDaemon: number; closedAfterMs: number }> {
  const before = await settledRss(daemon);
  const sampler = sampleRss(daemon.pid);
  const sockets: net.Socket[] = [];
  let closedByDaemon = 0;
  for (let i = 0; i < opts.connections; i++) {
    const s = await open(daemon.paths.socketPath);
    s.on('error', () => {});
    s.on('close', () => closedByDaemon++);
    s.resume();
    sockets.push(s);
    s.write(Buffer.from([0, 0, 0]));
  }
  const started = performance.now();
  const pingDuringMs = await timedPing(daemon);
  // The daemon closes each of them by itself: the oldest unauthenticated ones as newer come in,
  // the rest at the frame deadline.
  await waitFor(() => closedByDaemon === sockets.length, 'the daemon to close every half-prefix connection', 60_000);
  const closedAfterMs = performance.now() - started;
  const peak = sampler.stop();
  await closeAll(daemon, sockets);
  return {
    probe: 'half length prefixes', connections: opts.connections, rssBeforeBytes: before, rssPeakBytes: peak,
    rssAfterBytes: await rssAfter(daemon, before), pingDuringMs, closedByDaemon, closedAfterMs,
  };
}

const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

export function describeProbe(f: ProbeFigures): string {
  return `${f.probe} (${f.connections} connections): RSS ${mb(f.rssBeforeBytes)} before, ${mb(f.rssPeakBytes)} peak, ${mb(f.rssAfterBytes)} after; a PING meanwhile took ${f.pingDuringMs.toFixed(1)} ms`;
}

export interface CrowdFigures {
  limit: number;
  clients: number;
  batch: number;
  ok: number;
  told: number;
  /** Reset (ECONNRESET/EPIPE) or closed before a frame came: what must never happen. */
  reset: number;
  outcomes: Record<string, number>;
}

/** Connects, sends a PING at once and keeps the socket open; resolves with what came back first. */
function pingAndHold(socketPath: string, sockets: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    sockets.push(socket);
    const decoder = new FrameDecoder((body) => {
      const r = decodeResponse(body);
      resolve(r.code === StatusCode.STATUS_CODE_OK ? 'OK' : `${StatusCode[r.code].replace('STATUS_CODE_', '')} ${r.message.replace(/ \(EMFILE\).*/, '')}`);
    });
    socket.once('connect', () => socket.write(encodeFrame(encodeRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, protocolVersion: 1, ping: {} }))));
    socket.on('data', (d) => decoder.push(d));
    socket.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('close', () => resolve('closed without a word'));
  });
}

const TOLD = 'RESOURCE_EXHAUSTED too many open files';

/**
 * The daemon's fd limit is set `headroom` above what it has open (prlimit), then `clients` clients
 * arrive `batch` at a time, each sending a PING as soon as it is connected, none closing its socket
 * when refused (as an attacker, or many stuck CLIs, would). Each must be answered or told "too many
 * open files": the refusals must not hold the reserve until accept(2) fails and libuv resets.
 */
export async function probeFdCrowd(daemon: TestDaemon, opts: { clients: number; batch: number; headroom: number }): Promise<CrowdFigures> {
  const limit = fs.readdirSync(`/proc/${daemon.pid}/fd`).length + opts.headroom;
  const r = spawnSync('prlimit', ['--pid', String(daemon.pid), `--nofile=${limit}:${limit}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
  const sockets: net.Socket[] = [];
  const outcomes: Record<string, number> = {};
  try {
    for (let sent = 0; sent < opts.clients; sent += opts.batch) {
      const round = await Promise.all(Array.from({ length: Math.min(opts.batch, opts.clients - sent) }, () => pingAndHold(daemon.paths.socketPath, sockets)));
      for (const o of round) outcomes[o] = (outcomes[o] ?? 0) + 1;
    }
  } finally {
    for (const s of sockets) s.destroy();
  }
  const ok = outcomes.OK ?? 0;
  const told = outcomes[TOLD] ?? 0;
  return { limit, clients: opts.clients, batch: opts.batch, ok, told, reset: opts.clients - ok - told, outcomes };
}
