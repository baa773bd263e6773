// Telling a daemon that does not answer (SIGSTOPped, wedged) from one that is busy with a long
// request: while a call waits with nothing heard from the daemon for PROBE_AFTER_MS, a PING on a
// fresh connection must come back within PROBE_TIMEOUT_MS; if it does not, the daemon is declared
// not responding (within 5 s of the call), naming its pid. One probe at a time per client.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { encodeFrame, FrameDecoder } from '../wire/frame';
import { encodeRequest } from '../wire/envelope';
import { PROTOCOL_VERSION, RequestType } from '../wire/proto';

/** Silence on a call before the daemon is probed. */
export const PROBE_AFTER_MS = 1500;
/** How long the probe's PING may take. */
export const PROBE_TIMEOUT_MS = 3000;

/** True when a PING on a new connection to socketPath is answered within timeoutMs. */
export function probeDaemon(socketPath: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    const decoder = new FrameDecoder(() => done(true), 1024 * 1024);
    socket.on('data', (d: Buffer) => decoder.push(d));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.once('connect', () => socket.write(encodeFrame(encodeRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, protocolVersion: PROTOCOL_VERSION, ping: {} }))));
    socket.unref();
  });
}

/** "runpmd (pid N) is not responding" with the pid from the scope's lock when it can be read. */
export function notRespondingMessage(lockPath: string, socketPath: string, silentMs: number): string {
  let pid = 'unknown';
  try {
    const n = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    if (Number.isFinite(n) && n > 0) pid = String(n);
  } catch {
    // No lock: the pid stays unknown.
  }
  return `runpmd (pid ${pid}) is not responding: no answer for ${(silentMs / 1000).toFixed(1)} s, and a PING on a new connection to ${socketPath} got none either (stopped or hung?)`;
}
