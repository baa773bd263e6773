// Telling a daemon that does not answer (SIGSTOPped, wedged) from one that is busy with a long
// request: while a call waits with nothing heard from the daemon for PROBE_AFTER_MS, a PING on a
// fresh connection must come back within PROBE_TIMEOUT_MS; if it does not, the daemon is declared
// not responding (within 5 s of the call), naming its pid. One probe at a time per client. The
// daemon's process is looked at too (same host: the socket is a unix one): a stopped one (state T)
// is declared at once; one that used CPU while its PING went unanswered is busy, not hung (a
// loaded machine: two cores, many daemons), and is given up to BUSY_GRACE_MS of silence.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { procBackend } from '../proc/process-table';
import { encodeFrame, FrameDecoder } from '../wire/frame';
import { encodeRequest } from '../wire/envelope';
import { PROTOCOL_VERSION, RequestType } from '../wire/proto';

/** Silence on a call before the daemon is probed. */
export const PROBE_AFTER_MS = 1500;
/** How long the probe's PING may take. */
export const PROBE_TIMEOUT_MS = 3000;
/** Silence after which even a daemon that keeps using CPU is declared not responding. */
export const BUSY_GRACE_MS = 20_000;

/** What the daemon's process is doing: stopped (SIGSTOP), gone, or its state and CPU ticks so far. */
export type DaemonActivity = { kind: 'stopped' | 'gone' | 'unknown' } | { kind: 'running'; cpuTicks: number };

/** The scope's daemon pid from its lock file, or null. */
export function daemonPid(lockPath: string): number | null {
  try {
    const n = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Looks at the daemon's process; 'unknown' when there is no pid or the table cannot be read. */
export function daemonActivity(pid: number | null): DaemonActivity {
  if (pid === null) return { kind: 'unknown' };
  try {
    const backend = procBackend();
    const stat = backend.readStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return { kind: 'gone' };
    if (stat.state === 'T' || stat.state === 't') return { kind: 'stopped' };
    const times = backend.readTimes([pid]).get(pid);
    return times ? { kind: 'running', cpuTicks: times.cpuTicks } : { kind: 'gone' };
  } catch {
    return { kind: 'unknown' };
  }
}

/** CPU ticks (1/100 s on Linux) a probe window must show to count as work, not a stray wakeup. */
const BUSY_MIN_TICKS = 3;

/** True when the daemon used CPU between the two looks (busy, not hung). */
export function workedBetween(before: DaemonActivity, after: DaemonActivity): boolean {
  return before.kind === 'running' && after.kind === 'running' && after.cpuTicks - before.cpuTicks >= BUSY_MIN_TICKS;
}

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

/** "runpmd (pid N) is not responding" with the pid from the scope's lock when it can be read, and why it is said. */
export function notRespondingMessage(lockPath: string, socketPath: string, silentMs: number, why: 'stopped' | 'silent' | 'busy' = 'silent'): string {
  const pid = daemonPid(lockPath) ?? 'unknown';
  const silent = `no answer for ${(silentMs / 1000).toFixed(1)} s`;
  if (why === 'stopped') return `runpmd (pid ${pid}) is not responding: ${silent}, and the process is stopped (SIGSTOP; kill -CONT ${pid} resumes it)`;
  if (why === 'busy') return `runpmd (pid ${pid}) is not responding: ${silent} though it keeps using CPU, and a PING on a new connection to ${socketPath} got none either (busy or looping?)`;
  return `runpmd (pid ${pid}) is not responding: ${silent}, and a PING on a new connection to ${socketPath} got none either (stopped or hung?)`;
}
