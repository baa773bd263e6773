// The daemon's log: one line per event to stderr and to daemon.log in the scope's state dir.
// Lives as long as the daemon process. Never logs environment values.
import * as fs from 'node:fs';
import { openNoFollowSync } from '../files/no-follow';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  close(): void;
}

/** Opens daemon.log for append; skips stderr when stderr already is that same file (autostart). */
export function openDaemonLog(
  logPath: string, opts: { quiet?: boolean; debug?: boolean; onWriteError?: (err: unknown) => void } = {},
): Logger {
  const fd = openNoFollowSync(logPath, 'append', { private: true });
  const fileStat = fs.fstatSync(fd);
  let writeStderr = !opts.quiet;
  try {
    const err = fs.fstatSync(2);
    if (err.dev === fileStat.dev && err.ino === fileStat.ino) writeStderr = false;
  } catch {
    writeStderr = false;
  }
  let open = true;
  let inWriteError = false;
  const write = (level: LogLevel, message: string) => {
    if (!open) return;
    if (level === 'debug' && !opts.debug) return;
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${process.pid}] ${message}\n`;
    try {
      fs.writeSync(fd, line);
    } catch (err) {
      // A full disk must not take the daemon down; the line is lost, stderr may still get it.
      // onWriteError releases the emergency reserve on ENOSPC (it may log: guarded against re-entry).
      if (!inWriteError) {
        inWriteError = true;
        try {
          opts.onWriteError?.(err);
        } finally {
          inWriteError = false;
        }
      }
    }
    if (writeStderr) {
      try {
        fs.writeSync(2, line);
      } catch {
        writeStderr = false;
      }
    }
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    close: () => {
      if (!open) return;
      open = false;
      fs.closeSync(fd);
    },
  };
}

/** A logger that discards everything (unit tests). */
export const nullLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, close() {} };
