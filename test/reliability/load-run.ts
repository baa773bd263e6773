// The load runner shared by the CI test (16 clients × 250 requests, 1,000 connect/disconnect
// cycles) and the soak run (64 × 1,000, 10,000 cycles): concurrent clients each keeping a window
// of requests in flight, then connection churn with the daemon's fd count read before and after.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { DaemonClient } from '../../src/client/daemon-client';
import '../../src/client/index';
import { encodeFrame } from '../../src/wire/frame';
import { encodeRequest } from '../../src/wire/envelope';
import { RequestType } from '../../src/wire/proto';
import { waitFor, type TestDaemon } from '../helpers/daemon';
import { rssOf } from './fuzz-run';

export interface LoadOptions {
  clients: number;
  requestsPerClient: number;
  /** Requests each client keeps in flight. */
  window: number;
  cycles: number;
}

export interface LoadFigures {
  clients: number;
  requestsSent: number;
  requestsAnswered: number;
  cycles: number;
  fdBefore: number;
  fdAfter: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

async function runClient(client: DaemonClient, requests: number, window: number, answered: () => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      // A mix of the cheapest request, the core one, and one that touches the registry DB.
      if (i % 10 === 9) await client.listActive();
      else if (i % 3 === 2) await client.status();
      else await client.ping();
      answered();
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** One connect/disconnect: half just connect and close, half send a PING and close after its answer. */
function cycle(socketPath: string, withRequest: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('error', reject);
    s.once('connect', () => {
      if (!withRequest) {
        s.destroy();
        resolve();
        return;
      }
      s.write(encodeFrame(encodeRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, ping: {} })));
      s.once('data', () => {
        s.destroy();
        resolve();
      });
    });
  });
}

/** Runs the load against `daemon`; returns the figures (the caller asserts). */
export async function runLoad(daemon: TestDaemon, opts: LoadOptions): Promise<LoadFigures> {
  const pid = daemon.pid;
  // The fd baseline is taken with only the test's own client connected.
  await waitFor(async () => (await daemon.client.status()).activeConnections === 1, 'a quiet daemon before the load');
  const figures: LoadFigures = {
    clients: opts.clients, requestsSent: opts.clients * opts.requestsPerClient, requestsAnswered: 0, cycles: 0,
    fdBefore: fdCount(pid), fdAfter: 0, rssBeforeBytes: rssOf(pid), rssPeakBytes: 0, rssAfterBytes: 0,
  };
  const clients = await Promise.all(Array.from({ length: opts.clients }, () => daemon.connect({ callTimeoutMs: 30_000 })));
  const sampler = setInterval(() => (figures.rssPeakBytes = Math.max(figures.rssPeakBytes, rssOf(pid))), 50);
  try {
    await Promise.all(clients.map((c) => runClient(c, opts.requestsPerClient, opts.window, () => figures.requestsAnswered++)));
  } finally {
    clearInterval(sampler);
    for (const c of clients) c.close();
  }
  const parallel = 8;
  for (let i = 0; i < opts.cycles; i += parallel) {
    const n = Math.min(parallel, opts.cycles - i);
    await Promise.all(Array.from({ length: n }, (_, j) => cycle(daemon.paths.socketPath, (i + j) % 2 === 0)));
    figures.cycles += n;
  }
  await waitFor(async () => (await daemon.client.status()).activeConnections === 1, 'every load connection to be released', 15_000);
  figures.fdAfter = fdCount(pid);
  figures.rssPeakBytes = Math.max(figures.rssPeakBytes, rssOf(pid));
  figures.rssAfterBytes = rssOf(pid);
  return figures;
}

/** One line of figures for the test log. */
export function describeLoad(f: LoadFigures): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  return `load: ${f.clients} clients, ${f.requestsAnswered}/${f.requestsSent} requests answered; ${f.cycles} connect/disconnect cycles, `
    + `fds ${f.fdBefore} → ${f.fdAfter}; RSS ${mib(f.rssBeforeBytes)} → peak ${mib(f.rssPeakBytes)} → ${mib(f.rssAfterBytes)}`;
}
