// What `runpm attach` says when it ends, and with which exit status: the child's exit code or the
// signal that killed it (128+N, like a shell), and, when the connection to runpmd is lost without
// a word, what can still be found out about the daemon and the session's process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { isExitedState, readProcStat } from '../proc/process-table';

/** An exit code for the shell from a session's exit code (-N = killed by signal N → 128+N). */
export function shellExitCode(code: number): number {
  return code < 0 ? 128 + -code : code & 0xff;
}

/** The name of signal number n (SIGHUP for 1), or "signal n" when it has none here. */
export function signalName(n: number): string {
  const signals = os.constants.signals as Record<string, number>;
  return Object.keys(signals).find((name) => signals[name] === n) ?? `signal ${n}`;
}

/** "exited with code 3" / "was killed by SIGHUP": how a session's child ended. */
export function describeExit(code: number): string {
  return code < 0 ? `was killed by ${signalName(-code)}` : `exited with code ${code}`;
}

/** True while a process with this pid exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, owned by someone else (a reused pid).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readProcStat(pid);
    return stat !== null && !isExitedState(stat.state);
  } catch {
    return true; // The table cannot be read now: kill(0) said it exists.
  }
}

/** The daemon's pid from its lock file, or null. */
export function readDaemonPid(lockPath: string): number | null {
  try {
    const pid = Number(fs.readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** What is known after the attach connection dropped without a terminal frame. */
export interface LostConnectionFacts {
  sessionId: string;
  /** The session's process, from the attach response (0 if the daemon did not say). */
  sessionPid: number;
  /** The daemon's pid when the attach began (from its lock file), or null. */
  daemonPid: number | null;
  /** Whether a new connection to the daemon succeeds now. */
  daemonAnswers: boolean;
}

/**
 * The sentence for a lost connection. A daemon that died took the PTY master with it: the kernel
 * hung the terminal up, so the session's process usually got SIGHUP and exited (nobody can learn
 * its exit code now); one that ignores SIGHUP keeps running without a terminal.
 */
export function describeLostConnection(f: LostConnectionFacts): string {
  const session = `session ${f.sessionId}`;
  const daemon = f.daemonPid !== null ? `runpmd (pid ${f.daemonPid})` : 'runpmd';
  const daemonDied = f.daemonPid !== null && !processAlive(f.daemonPid);
  if (f.daemonAnswers && !daemonDied) {
    return `lost the connection to ${daemon}, which still answers; ${session} should still be there: runpm attach ${f.sessionId}`;
  }
  const died = daemonDied ? `${daemon} died` : `lost the connection to ${daemon}, which does not answer`;
  if (f.sessionPid <= 0) return `${died}; ${session} was on its terminal, which closed with it`;
  if (processAlive(f.sessionPid)) {
    return `${died}; ${session}'s terminal closed with it, but its process (pid ${f.sessionPid}) is still running without one (kill ${f.sessionPid} to end it)`;
  }
  return `${died}; ${session}'s terminal closed with it and its process (pid ${f.sessionPid}) has exited (hung up; its exit code is lost)`;
}

/** Waits (bounded) for a hung-up process to finish exiting, so "still running" is not said too early. */
export async function settleProcess(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pid > 0 && processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
