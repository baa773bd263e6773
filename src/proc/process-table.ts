// A read-only view of the Linux process table (/proc), the only module that reads it: per-process
// stat (state, ppid, group, session, terminal group, start time in clock ticks since boot), command
// lines, parent → children maps and descendant walks. Nothing is cached except the boot time and
// clock tick rate, which never change while we run.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

/** One line of /proc/<pid>/stat, the fields we use. */
export interface ProcStat {
  pid: number;
  /** Executable name (comm), at most 15 characters, as the kernel keeps it. */
  comm: string;
  /** Single-letter state: R, S, D, T, t, Z (zombie), X (dead), I... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time in clock ticks since boot: with the pid, the process's identity. */
  startTicks: number;
}

/** A process identity that survives pid reuse: pid plus its start time in ticks. */
export interface ProcIdentity {
  pid: number;
  startTicks: number;
}

/** What has become of a process identity: ZOMBIE = exited, not yet reaped by its parent. */
export type Liveness = 'alive' | 'zombie' | 'dead' | 'recycled';

/** Splits a stat line into pid, comm and the fields after comm; null when malformed. */
function splitStat(text: string): { pid: number; comm: string; rest: string[] } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number.parseInt(text.slice(0, open), 10);
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n - 3]; starttime is field 22.
  if (rest.length < 20 || !Number.isInteger(pid)) return null;
  return { pid, comm: text.slice(open + 1, close), rest };
}

/** Parses the text of /proc/<pid>/stat; null when malformed. comm may itself contain ") ". */
export function parseProcStat(text: string): ProcStat | null {
  const split = splitStat(text);
  if (!split) return null;
  const { pid, comm, rest } = split;
  return {
    pid,
    comm,
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    startTicks: Number(rest[19]),
  };
}

/** Parses tpgid (field 8: the foreground group of the process's terminal, -1 without one). */
export function parseTerminalGroup(text: string): number | null {
  const split = splitStat(text);
  return split ? Number(split.rest[5]) : null;
}

function readStatText(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
}

/** Reads one process's stat; null when there is no such process (or it vanished meanwhile). */
export function readProcStat(pid: number): ProcStat | null {
  const text = readStatText(pid);
  return text === null ? null : parseProcStat(text);
}

/** Foreground process group of pid's controlling terminal (-1 without one), null when pid is gone. */
export function readTerminalGroup(pid: number): number | null {
  const text = readStatText(pid);
  return text === null ? null : parseTerminalGroup(text);
}

/** Start time of pid in clock ticks since boot, or null when it does not exist. */
export function readStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/** Working directory of pid, or null when it is gone or not ours to read. */
export function readCwd(pid: number): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** argv of pid (empty for kernel threads, zombies, or when unreadable). */
export function readCmdline(pid: number): string[] {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return [];
  }
}

/** Every pid currently in /proc (none when /proc cannot be read). */
export function listPids(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** A snapshot of the whole table (processes that vanish while reading are skipped). */
export function readProcessTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const pid of listPids()) {
    const stat = readProcStat(pid);
    if (stat) table.set(pid, stat);
  }
  return table;
}

/** A snapshot of the processes that still run (zombies and dead entries left out). */
export function readLiveProcessTable(): Map<number, ProcStat> {
  const table = readProcessTable();
  for (const [pid, stat] of table) if (stat.state === 'Z' || stat.state === 'X') table.delete(pid);
  return table;
}

/** ppid → child pids (ascending) for a snapshot. */
export function buildChildrenMap(table: Map<number, ProcStat>): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const stat of table.values()) {
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  for (const list of children.values()) list.sort((a, b) => a - b);
  return children;
}

/** Descendants of pid (children first, breadth-first), excluding pid itself. */
export function listDescendants(pid: number, table: Map<number, ProcStat> = readProcessTable()): number[] {
  const children = buildChildrenMap(table);
  const out: number[] = [];
  const seen = new Set<number>([pid]);
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** pid's ancestors, parent first, up to (and including) pid 1. */
export function listAncestors(pid: number): number[] {
  const out: number[] = [];
  let current = readProcStat(pid)?.ppid ?? 0;
  while (current > 0 && !out.includes(current)) {
    out.push(current);
    current = readProcStat(current)?.ppid ?? 0;
  }
  return out;
}

/** Whether the identity's process still runs, exited (zombie/dead), or its pid was reused. */
export function checkLiveness(identity: ProcIdentity): Liveness {
  const stat = readProcStat(identity.pid);
  if (!stat) return 'dead';
  if (stat.startTicks !== identity.startTicks) return 'recycled';
  if (stat.state === 'Z' || stat.state === 'X') return 'zombie';
  return 'alive';
}

/** True while pid runs and is the same process that started at startTicks (zombies are gone). */
export function isSameProcessAlive(pid: number, startTicks: number): boolean {
  return checkLiveness({ pid, startTicks }) === 'alive';
}

/** True while a process with this pid exists and has not exited (zombies count as gone). */
export function isPidRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

let ticksPerSecond: number | null = null;
/** sysconf(_SC_CLK_TCK): read once through getconf (100 on every mainstream Linux). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

let bootTime: number | null = null;
/** Boot time in epoch seconds (btime of /proc/stat). */
export function bootTimeSeconds(): number {
  if (bootTime === null) {
    const match = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    bootTime = match ? Number(match[1]) : 0;
  }
  return bootTime;
}

/** Converts a start time in ticks to epoch seconds (resolution: one tick). */
export function startTicksToEpochSeconds(startTicks: number): number {
  return bootTimeSeconds() + startTicks / clockTicksPerSecond();
}

/**
 * Live session leaders (pid = session id) whose environment holds every one of `entries`
 * ("KEY=VALUE"). Used at daemon start to find a service run the last daemon spawned but died
 * before recording. Processes of other users (environ unreadable) are skipped.
 */
export function findSessionLeadersWithEnv(entries: string[]): ProcStat[] {
  const found: ProcStat[] = [];
  for (const [pid, stat] of readLiveProcessTable()) {
    if (stat.session !== pid) continue;
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    const vars = new Set(environ.split('\0'));
    if (entries.every((e) => vars.has(e))) found.push(stat);
  }
  return found;
}
