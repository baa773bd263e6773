// How a session's child ended, told the same way everywhere the library, the CLI and its JSON
// speak of it: a shell's numeric status (128 + n when signal n killed it, as `$?` shows) and the
// signal's name (null when it exited on its own). On the wire exit_code is -n for a signal.
import * as os from 'node:os';

export interface ExitStatus {
  /** 0-255 as a shell reports it: the exit code, or 128 + the signal number. */
  exitCode: number;
  /** "SIGKILL" when a signal killed it; null when it exited. */
  signal: string | null;
}

const SIGNALS = os.constants.signals as Record<string, number>;

/** The name of signal n ("SIGHUP" for 1), or "SIG<n>" when this platform has no name for it. */
export function signalNameOf(n: number): string {
  return Object.keys(SIGNALS).find((name) => SIGNALS[name] === n && name !== 'SIGIOT' && name !== 'SIGPOLL') ?? `SIG${n}`;
}

/** A wire exit_code (negative: killed by that signal) as a shell's status and the signal's name. */
export function exitStatusOf(wireCode: number): ExitStatus {
  if (wireCode < 0) return { exitCode: 128 + -wireCode, signal: signalNameOf(-wireCode) };
  return { exitCode: wireCode & 0xff, signal: null };
}

/** "3" / "137 (SIGKILL)": a status in a few words for tables and notes. */
export function describeExitStatus(status: ExitStatus): string {
  return status.signal ? `${status.exitCode} (${status.signal})` : `${status.exitCode}`;
}

/** A session's exit as its rows and results carry it: exitCode null (and signal null) while it runs. */
export interface SessionExit {
  exitCode: number | null;
  signal: string | null;
}

/** The exit of a session row: null while `exited` is false, else exitStatusOf(wireCode). */
export function sessionExitOf(exited: boolean, wireCode: number): SessionExit {
  return exited ? exitStatusOf(wireCode) : { exitCode: null, signal: null };
}
