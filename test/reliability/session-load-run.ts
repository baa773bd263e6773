// Load with live sessions, shared by the CI test (60 sessions, 10 attached, 1 stuck) and the soak
// (500 / 50 / 1): every session is a perl loop printing a numbered line every intervalMs; readers
// drain some of them; one raw client attaches and never reads while its session bursts 4 MiB.
// Each child's progress is read from /proc/<pid>/io (wchar: bytes it wrote), so what is measured
// is the child itself, not what the daemon forwarded. Lives for one test; cleans up after itself.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { DaemonClient } from '../../src/client/daemon-client';
import type { PipeAttachment } from '../../src/client/sessions-api';
import '../../src/client/index';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';
import { encodeRequest, decodeResponse } from '../../src/wire/envelope';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { waitFor, type TestDaemon } from '../helpers/daemon';
import { rssOf } from './fuzz-run';

/** Bytes the stuck session writes at once when told to: far beyond socket buffers + ring + pump budget. */
export const BURST_BYTES = 4 * 1024 * 1024;

/**
 * Prints "line N" padded to ~110 bytes every intervalMs; the wait is a select() on stdin, and a line
 * on stdin makes it write BURST_BYTES at once, then carry on.
 */
const PRODUCER = `
$| = 1; my $pad = "." x 96; my $i = 0; my $rin = ""; vec($rin, fileno(STDIN), 1) = 1;
while (1) {
  $i++; print "line $i $pad\\n";
  if (select(my $r = $rin, undef, undef, $ENV{RP_INTERVAL_S}) > 0) {
    my $cmd = <STDIN>; last unless defined $cmd;
    print(("b" x 65535) . "\\n") for 1 .. ${BURST_BYTES / 65536};
  }
}
sleep 600;
`;

export interface SessionLoadOptions {
  sessions: number;
  attached: number;
  intervalMs: number;
  /** Clients sending requests while the sessions run. */
  requesters: number;
  /** Lines the median session must write in each measuring window. */
  windowLines: number;
  /** --ring-bytes the daemon was started with. */
  ringBytes: number;
}

export interface SessionRates {
  /** Median bytes/s over all sessions but the stuck one. */
  siblingsMedian: number;
  /** Slowest sibling, bytes/s. */
  siblingsMin: number;
  /** The session with the stuck client, bytes/s. */
  stuckSession: number;
}

export interface SessionLoadFigures {
  sessions: number;
  attached: number;
  stuckClients: number;
  ringBytes: number;
  intervalMs: number;
  requestsSent: number;
  requestsAnswered: number;
  requestsFailed: number;
  /** Bytes the readers received. */
  readerBytes: number;
  withoutStuck: SessionRates;
  withStuck: SessionRates;
  /** Bytes the stuck client had received when it finally read, and what it was told it missed. */
  stuckReceivedBytes: number;
  stuckMissedBytes: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
  /** rssBefore + sessions × (2 rings + 64 KiB) + (attached + 1) × 2 MiB + 64 MiB. */
  rssBoundBytes: number;
  sessionsLeft: number;
}

/** Bytes a process has written (any fd), from /proc/<pid>/io; -1 if it is gone. */
function wcharOf(pid: number): number {
  try {
    return Number(/wchar:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  } catch {
    return -1;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Measures every session's write rate over a window in which the median session writes `lines` lines. */
async function measureRates(pids: number[], stuckIndex: number, lines: number, sample: () => void): Promise<SessionRates> {
  const t0 = Date.now();
  const w0 = pids.map(wcharOf);
  const lineBytes = 110;
  let w1: number[] = w0;
  await waitFor(() => {
    sample();
    w1 = pids.map(wcharOf);
    return median(w1.map((w, i) => w - w0[i])) >= lines * lineBytes;
  }, `the median session to write ${lines} lines`, 120_000, 50);
  const seconds = (Date.now() - t0) / 1000;
  const rates = w1.map((w, i) => (w - w0[i]) / seconds);
  const siblings = rates.filter((_, i) => i !== stuckIndex);
  return { siblingsMedian: median(siblings), siblingsMin: Math.min(...siblings), stuckSession: rates[stuckIndex] };
}

/** A client that attaches over a raw socket, takes the response, then stops reading (socket paused). */
class StuckClient {
  private readonly bodies: Buffer[] = [];
  private readonly decoder = new FrameDecoder((b) => this.bodies.push(b), Number.MAX_SAFE_INTEGER);
  closed = false;
  /** Reading stops after the attach response until drain(). */
  private holding = true;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.decoder.push(c);
      if (this.holding && this.bodies.length >= 1) socket.pause();
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async attach(socketPath: string, sessionId: string): Promise<StuckClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const c = new StuckClient(socket);
    socket.write(encodeFrame(encodeRequest({
      id: 1, type: RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM,
      attachPipeStream: { sessionId, stream: pb.PipeStreamKind.PIPE_STREAM_KIND_STDOUT, steal: false },
    })));
    await waitFor(() => c.bodies.length >= 1, 'the stuck client\'s attach response');
    const r = decodeResponse(c.bodies[0]);
    if ((r.code ?? 0) !== StatusCode.STATUS_CODE_OK) throw new Error(`stuck attach refused: ${r.errorMessage}`);
    return c;
  }

  /** Starts reading again and drains until a missed_bytes frame (the proof it fell behind) or the end. */
  async drain(): Promise<{ received: number; missed: number }> {
    let received = 0;
    let missed = 0;
    let seen = 1;
    this.holding = false;
    this.socket.resume();
    await waitFor(() => {
      for (; seen < this.bodies.length; seen++) {
        const f = pb.PipeStreamFrame.decode(this.bodies[seen]);
        if (f.frame === 'bytes') received += f.bytes.length;
        else if (f.frame === 'missedBytes') missed += Number(f.missedBytes);
      }
      return missed > 0 || this.closed;
    }, 'the stuck client to be told what it missed', 30_000);
    return { received, missed };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Keeps a client sending requests (list, status, ping) until stopped; counts answers. */
function startRequester(client: DaemonClient, counts: { sent: number; answered: number; failed: number }): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      counts.sent++;
      try {
        if (i % 3 === 0) await client.listPipes();
        else if (i % 3 === 1) await client.status();
        else await client.ping();
        counts.answered++;
      } catch {
        counts.failed++;
      }
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** Runs the session load against `daemon` (started with --ring-bytes opts.ringBytes); returns figures. */
export async function runSessionLoad(daemon: TestDaemon, opts: SessionLoadOptions): Promise<SessionLoadFigures> {
  const pid = daemon.pid;
  const rssBeforeBytes = rssOf(pid);
  let rssPeakBytes = rssBeforeBytes;
  const sample = () => (rssPeakBytes = Math.max(rssPeakBytes, rssOf(pid)));
  const ids: string[] = [];
  const pids: number[] = [];
  const readers: PipeAttachment[] = [];
  let readerBytes = 0;
  let stuck: StuckClient | null = null;
  const counts = { sent: 0, answered: 0, failed: 0 };
  const stoppers: Array<() => Promise<void>> = [];
  const env = { RP_INTERVAL_S: String(opts.intervalMs / 1000) };
  try {
    for (let i = 0; i < opts.sessions; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, opts.sessions - i) }, (_, j) =>
        daemon.client.spawnPipe({ argv: ['perl', '-e', PRODUCER], env, originator: `load:${i + j}` })));
      for (const s of batch) {
        ids.push(s.sessionId);
        pids.push(s.pid);
      }
      sample();
    }
    // Session 0 gets the stuck client; sessions 1..attached are drained by readers.
    const stuckIndex = 0;
    for (let i = 1; i <= opts.attached; i++) {
      const att = await daemon.client.attachPipe(ids[i]);
      readers.push(att);
      void (async () => {
        for (;;) {
          const f = await att.next().catch(() => null);
          if (!f) return;
          if (f.kind === 'bytes') readerBytes += f.data.length;
        }
      })();
    }
    const requesterClients = await Promise.all(Array.from({ length: opts.requesters }, () => daemon.connect({ callTimeoutMs: 30_000 })));
    for (const c of requesterClients) stoppers.push(startRequester(c, counts));

    const withoutStuck = await measureRates(pids, stuckIndex, opts.windowLines, sample);

    stuck = await StuckClient.attach(daemon.paths.socketPath, ids[stuckIndex]);
    const w = wcharOf(pids[stuckIndex]);
    await daemon.client.writeStdin(ids[stuckIndex], 'go\n');
    // The burst completing at all shows the child was never blocked by the client that does not read.
    await waitFor(() => {
      sample();
      return wcharOf(pids[stuckIndex]) >= w + BURST_BYTES;
    }, 'the stuck session to finish its 4 MiB burst', 60_000, 20);
    const withStuck = await measureRates(pids, stuckIndex, opts.windowLines, sample);

    for (const stop of stoppers.splice(0)) await stop();
    const drained = await stuck.drain();
    sample();

    const rssBoundBytes = rssBeforeBytes + opts.sessions * (2 * opts.ringBytes + 64 * 1024) + (opts.attached + 1) * 2 * 1024 * 1024 + 64 * 1024 * 1024;
    const figures: SessionLoadFigures = {
      sessions: opts.sessions, attached: opts.attached, stuckClients: 1, ringBytes: opts.ringBytes, intervalMs: opts.intervalMs,
      requestsSent: counts.sent, requestsAnswered: counts.answered, requestsFailed: counts.failed, readerBytes,
      withoutStuck, withStuck, stuckReceivedBytes: drained.received, stuckMissedBytes: drained.missed,
      rssBeforeBytes, rssPeakBytes, rssAfterBytes: 0, rssBoundBytes, sessionsLeft: -1,
    };
    await cleanUp();
    figures.rssAfterBytes = rssOf(pid);
    figures.rssPeakBytes = Math.max(figures.rssPeakBytes, figures.rssAfterBytes);
    figures.sessionsLeft = (await daemon.client.listPipes()).length;
    return figures;
  } finally {
    await cleanUp();
  }

  async function cleanUp(): Promise<void> {
    for (const stop of stoppers.splice(0)) await stop();
    stuck?.close();
    stuck = null;
    for (const r of readers.splice(0)) r.close();
    if (ids.length === 0) return;
    ids.length = 0;
    await daemon.client.bulkTerminate({ graceMs: 500 });
    await waitFor(async () => (await daemon.client.listPipes()).every((s) => s.exited), 'every load session to exit', 30_000);
    await daemon.client.purge();
  }
}

/** One line of figures for the test log. */
export function describeSessionLoad(f: SessionLoadFigures): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  const r = (x: SessionRates) => `siblings median ${x.siblingsMedian.toFixed(0)} B/s (min ${x.siblingsMin.toFixed(0)}), stuck-attached session ${x.stuckSession.toFixed(0)} B/s`;
  return `session load: ${f.sessions} sessions, ${f.attached} read, 1 stuck (ring ${f.ringBytes} B); ${f.requestsAnswered}/${f.requestsSent} requests answered (${f.requestsFailed} failed); `
    + `without stuck client: ${r(f.withoutStuck)}; with it: ${r(f.withStuck)}; stuck client got ${f.stuckReceivedBytes} B and missed ${f.stuckMissedBytes} B of the 4 MiB burst; `
    + `RSS ${mib(f.rssBeforeBytes)} → peak ${mib(f.rssPeakBytes)} (bound ${mib(f.rssBoundBytes)}) → ${mib(f.rssAfterBytes)} after; sessions left ${f.sessionsLeft}`;
}
