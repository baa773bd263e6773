// A service's log files: logs/<name>-out.log and -error.log (pm2's names), written by the daemon
// (log-writer.ts: runs print into FIFOs the daemon reads) and rotated by rename-and-reopen into
// <file>.1 … <file>.N, each at most the limit, so the total is at most limit × (N + 1). Here: the
// paths, flushing, and tails read from the end of the files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openNoFollowSync } from '../files/no-follow';

export interface LogPaths {
  out: string;
  err: string;
  /** pm2's log_file: both streams' lines together; "" = none. */
  combined: string;
}

/** What a service's log paths depend on. */
export interface LogOwner {
  id: number;
  name: string;
  config: { outFile: string; errorFile: string; logFile: string; instances: number; mergeLogs: boolean; execMode?: string };
}

/** Bytes read from the end of a file for a tail, at most. */
export const MAX_TAIL_BYTES_PER_FILE = 1024 * 1024;

/** A service name as it appears in its log file names (pm2's: anything but [A-Za-z0-9.-] becomes '-'). */
export function logFileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9.-]/g, '-');
}

/** pm2's per-instance file name: "-<id>" before ".log" (a path not ending in .log, such as /dev/null, is kept). */
export function withInstanceId(file: string, id: number): string {
  return file.replace(/-[0-9]+\.log$|\.log$/, `-${id}.log`);
}

/**
 * Paths of a service's live log files: out_file / error_file / log_file, or pm2's names in the
 * logs directory (<name>-out.log, <name>-error.log; no combined log). As pm2 (God.js, Common.js:
 * merge_logs defaults to true only for a fork-mode app without instances), an app given any
 * instance count (-i 1 too) or in cluster mode gets "-<id>" before ".log" unless merge_logs.
 */
export function logPathsOf(logsDir: string, owner: LogOwner): LogPaths {
  const stem = logFileStem(owner.name);
  const c = owner.config;
  const paths = {
    out: c.outFile || path.join(logsDir, `${stem}-out.log`),
    err: c.errorFile || path.join(logsDir, `${stem}-error.log`),
    combined: c.logFile,
  };
  if (c.mergeLogs || (c.instances === 0 && c.execMode !== 'cluster')) return paths;
  return { out: withInstanceId(paths.out, owner.id), err: withInstanceId(paths.err, owner.id), combined: paths.combined && withInstanceId(paths.combined, owner.id) };
}

/** Empties the live file and removes its rotated copies (file.1 … file.N, staged file.next-N and leftovers). */
export function flushLog(file: string): void {
  if (file === '' || file.startsWith('/dev/')) return; // none, or /dev/null: nothing to empty
  // Through the no-follow open: truncateSync(path) would empty a planted symlink's target.
  if (fs.existsSync(file)) fs.closeSync(openNoFollowSync(file, 'truncate'));
  const dir = path.dirname(file);
  const base = path.basename(file);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith(`${base}.`) && /^(\d+(\.tmp)?|next-\d+)$/.test(entry.slice(base.length + 1))) fs.rmSync(path.join(dir, entry), { force: true });
  }
}

/**
 * The last `lines` lines of a log (the live file, then its .1 if the live file holds fewer),
 * reading at most maxBytes from the end of each; never the whole file. `end` is the live file's
 * size the tail was read up to (where a follow goes on from).
 */
export function tailLines(file: string, lines: number, maxBytes = MAX_TAIL_BYTES_PER_FILE): { lines: string[]; end: number } {
  const live = tailOfFile(file, lines, maxBytes);
  if (live.lines.length < lines) live.lines.unshift(...tailOfFile(`${file}.1`, lines - live.lines.length, maxBytes).lines);
  return live;
}

function tailOfFile(file: string, lines: number, maxBytes: number): { lines: string[]; end: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return { lines: [], end: 0 };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0 || lines <= 0) return { lines: [], end: size };
    const length = Math.min(size, maxBytes);
    const buf = Buffer.allocUnsafe(length);
    const n = fs.readSync(fd, buf, 0, length, size - length);
    let text = buf.subarray(0, n).toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const parts = text.split('\n');
    // A tail that did not start at offset 0 begins mid-line: drop that fragment.
    if (length < size && parts.length > 1) parts.shift();
    return { lines: parts.slice(-lines), end: size };
  } finally {
    fs.closeSync(fd);
  }
}
