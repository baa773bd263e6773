// The fd-exhaustion runner shared by the CI test (small) and the soak (at scale): a daemon that
// re-adopted a service and a numbered log writer after a SIGKILL, with test-owned processes in its
// registry, is held to `prlimit --nofile=64`, then filled up: sessions until a spawn is refused,
// client connections until one is told "too many open files"; then squeezed to the fds it holds
// (every /proc read and every open fails with EMFILE) for several reaper rounds and adopted-run
// polls. Once fds are back nothing was reaped or forgotten, no line of the log is lost, nothing
// runs twice, and no process of the scope is unknown. Lives for one test.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import '../../src/client/index';
import { DaemonError } from '../../src/wire/errors';
import { pb, StatusCode } from '../../src/wire/proto';
import { isAlive, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { firstAnswerToPing } from '../helpers/raw';
import { integrityOf, killMarker, logLines, numberedLogLines, processesWithMarker, unknownProcesses } from './crash-helpers';

export interface FdLimitOptions {
  /** Test-owned processes registered with the daemon (each must stay listed and alive). */
  registered: number;
  /** Reaper rounds run while every /proc read fails. */
  squeezedRounds: number;
}

export interface FdLimitFigures {
  limit: number;
  registered: number;
  sessionsAcked: number;
  /** The refusal of the first spawn over the limit: code and message. */
  spawnRefusal: string;
  connectionsHeld: number;
  connectionRefusal: string;
  squeezedRounds: number;
  /** After: registered rows still listed alive; the adopted service kept (same pid, no restart). */
  rowsListedAlive: number;
  rowsReaped: number;
  servicePidKept: boolean;
  serviceRestarts: number;
  /** Acknowledged sessions listed (once each) and alive afterwards. */
  sessionsListedOnce: number;
  logLinesVerified: number;
  logErrors: string[];
  maxRunsOfOneService: number;
  unknownProcesses: string[];
  integrity: string;
}

const FD_LIMIT = 64;

function softNofile(pid: number): string {
  return execFileSync('prlimit', ['--pid', String(pid), '--nofile', '--noheadings', '--output', 'SOFT'], { encoding: 'utf8' }).trim();
}

function numberedLines(out: string): number[] {
  return numberedLogLines(out, 100);
}

/** Runs it; returns figures (the caller asserts) and always cleans up. */
export async function runFdLimit(opts: FdLimitOptions): Promise<FdLimitFigures> {
  const marker = `rp-fdlimit-${process.pid}-${Date.now() % 1e6}`;
  const sleepers: ChildProcess[] = [];
  const held: net.Socket[] = [];
  let first: TestDaemon | null = null;
  let d: TestDaemon | null = null;
  try {
    first = await startDaemon();
    await first.client.startService({ name: 'steady', cmd: ['sh', '-c', `: ${marker}-steady; while :; do sleep 0.2; done`], minUptimeMs: 50 });
    await first.client.startService({
      name: 'numbers', minUptimeMs: 50, logMaxBytes: 4096, logMaxFiles: 100,
      cmd: ['python3', '-c', 'import sys, time\ni = 0\nwhile True:\n    i += 1; sys.stdout.write("%08d %s\\n" % (i, "x" * 90)); sys.stdout.flush(); time.sleep(0.01)', `${marker}-numbers`],
    });
    const { pid: servicePid } = await first.client.describeService('steady');
    first.proc.kill('SIGKILL');
    await first.exited;
    first.client.close();

    d = await startDaemon({ home: first.home, args: ['--reaper-interval-ms', '100'] });
    const daemon = d;
    const c = daemon.client;
    for (let i = 0; i < opts.registered; i++) {
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      sleepers.push(child);
      await new Promise((r) => child.once('spawn', r));
      await c.register({ pid: child.pid!, createdAt: 0, kind: 'test', command: 'sleep 600', cwd: '/', originator: 'fd-limit', containment: '' });
    }

    // prlimit --nofile=64 (the soft limit, what EMFILE is about; the hard one stays so it can be given back), then fill it up.
    const usualSoft = softNofile(daemon.pid);
    execFileSync('prlimit', ['--pid', String(daemon.pid), `--nofile=${FD_LIMIT}:`]);
    const sessions: string[] = [];
    let spawnRefusal = '';
    await waitFor(async () => {
      try {
        sessions.push((await c.spawnPipe({ argv: ['sh', '-c', `: ${marker}; exec sleep 600`] })).sessionId);
        if (sessions.length > FD_LIMIT) throw new Error(`${sessions.length} sessions spawned under a limit of ${FD_LIMIT} fds`);
        return false;
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        spawnRefusal = `${StatusCode[err.code]}: ${err.message}`;
        return true;
      }
    }, 'a spawn to be refused', 20_000);
    let connectionRefusal = '';
    for (let i = 0; i < FD_LIMIT && !connectionRefusal; i++) {
      const outcome = await firstAnswerToPing(daemon.paths.socketPath, held);
      if (typeof outcome === 'object' && 'code' in outcome && outcome.code === StatusCode.STATUS_CODE_OK) continue; // taken
      connectionRefusal = typeof outcome === 'object' && 'code' in outcome ? `${StatusCode[outcome.code]}: ${outcome.message}` : String(outcome);
    }

    // Squeezed to what it holds: every /proc read fails with EMFILE.
    const pattern = new RegExp(`reaper: ${opts.registered} row\\(s\\) could not be checked`);
    const before = logLines(daemon.paths.daemonLogPath, pattern).length;
    execFileSync('prlimit', ['--pid', String(daemon.pid), '--nofile=3:']);
    try {
      await waitFor(() => logLines(daemon.paths.daemonLogPath, pattern).length >= before + opts.squeezedRounds, `${opts.squeezedRounds} reaper rounds that could not read /proc`, 15_000 + opts.squeezedRounds * 500);
    } finally {
      execFileSync('prlimit', ['--pid', String(daemon.pid), `--nofile=${FD_LIMIT}:`]);
    }
    const squeezedRounds = logLines(daemon.paths.daemonLogPath, pattern).length - before;
    const connectionsHeld = held.length - (connectionRefusal ? 1 : 0);
    for (const s of held.splice(0)) s.destroy();
    execFileSync('prlimit', ['--pid', String(daemon.pid), `--nofile=${usualSoft}:`]);

    const rows = await c.listActive();
    const registeredPids = new Set(sleepers.map((s) => s.pid!));
    const steady = await c.describeService('steady');
    const listed = (await c.listPipes()).filter((s) => !s.exited).map((s) => s.sessionId);
    const out = path.join(daemon.paths.logsDir, 'numbers-out.log');
    const lastBefore = numberedLines(out).at(-1) ?? 0;
    await waitFor(() => (numberedLines(out).at(-1) ?? 0) > lastBefore + 5, 'the numbered writer logging after the squeeze');
    const lines = numberedLines(out);
    const logErrors: string[] = [];
    if (lines[0] !== 1) logErrors.push(`the log starts at line ${lines[0]}`);
    const wrong = lines.findIndex((n, i) => n !== i + 1);
    if (wrong !== -1) logErrors.push(`line ${lines[wrong]} where ${wrong + 1} belongs`);
    const runs = ['steady', 'numbers'].map((n) => {
      const all = processesWithMarker(`${marker}-${n}`);
      return all.filter((p) => !all.some((q) => q.pid === p.ppid)).length;
    });
    const figures: FdLimitFigures = {
      limit: FD_LIMIT, registered: opts.registered, sessionsAcked: sessions.length, spawnRefusal, connectionsHeld, connectionRefusal, squeezedRounds,
      rowsListedAlive: rows.filter((r) => registeredPids.has(r.pid) && r.state === pb.ProcessState.PROCESS_STATE_ALIVE && isAlive(r.pid)).length,
      rowsReaped: logLines(daemon.paths.daemonLogPath, /reaper: unregistered/).length,
      servicePidKept: steady.pid === servicePid && isAlive(servicePid), serviceRestarts: steady.restartCount,
      sessionsListedOnce: sessions.filter((id) => listed.filter((x) => x === id).length === 1).length,
      logLinesVerified: wrong === -1 ? lines.length : wrong, logErrors, maxRunsOfOneService: Math.max(...runs),
      unknownProcesses: await unknownProcesses(daemon), integrity: integrityOf(daemon.paths.dbPath),
    };
    return figures;
  } finally {
    for (const s of held) s.destroy();
    await d?.stop();
    first?.client.close();
    for (const s of sleepers) s.kill('SIGKILL');
    killMarker(marker);
  }
}

/** One line of figures for the test log. */
export function describeFdLimit(f: FdLimitFigures): string {
  return `fd limit ${f.limit}: ${f.sessionsAcked} sessions, then '${f.spawnRefusal}'; ${f.connectionsHeld} more clients, then one told '${f.connectionRefusal}'; `
    + `${f.squeezedRounds} reaper rounds with /proc unreadable; after: ${f.rowsListedAlive} of ${f.registered} registered rows alive, ${f.rowsReaped} reaped; `
    + `service pid kept ${f.servicePidKept}, restarts ${f.serviceRestarts}; ${f.sessionsListedOnce} of ${f.sessionsAcked} sessions listed once; `
    + `${f.logLinesVerified} log lines verified, ${f.logErrors.length} errors; most runs ${f.maxRunsOfOneService}; unknown processes ${f.unknownProcesses.length}; integrity ${f.integrity}`;
}
