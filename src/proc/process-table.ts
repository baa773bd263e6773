// A read-only view of the process table, the one way the daemon reads it (from /proc, or from
// `ps` where there is none: see proc-backend.ts): per-process stat (state, ppid, group, session,
// start time), terminal groups, command lines, environments, parent → children maps, descendant
// walks and liveness by identity (pid + start time). Reads that fail for another reason than
// "no such process" throw ProcUnreadableError or say 'unknown': never "dead".
import * as fs from 'node:fs';
import { ProcUnreadableError, type ProcBackend, type ProcStat } from './proc-backend';
import { ProcfsBackend } from './procfs-backend';
import { PsBackend } from './ps-backend';
import { clockTicksPerSecond } from './clock';

export { parseProcStat, parseTerminalGroup } from './procfs-backend';
export { ProcUnreadableError, type ProcStat } from './proc-backend';

/** A process identity that survives pid reuse: pid plus its start time in ticks. */
export interface ProcIdentity {
  pid: number;
  startTicks: number;
}

/**
 * What has become of a process identity: ZOMBIE = exited, not yet reaped by its parent; UNKNOWN =
 * the table could not be read (no fd left, no permission): nothing may be concluded from it.
 */
export type Liveness = 'alive' | 'zombie' | 'dead' | 'recycled' | 'unknown';

let backend: ProcBackend | null = null;

/**
 * The source for this process: /proc when it is there (RUNPM_PROC_ROOT names another root, for
 * tests that fake one), else `ps`. Decided with a stat (no fd needed), so fd exhaustion at the
 * first call cannot pick the wrong one.
 */
export function procBackend(): ProcBackend {
  if (backend) return backend;
  const root = process.env.RUNPM_PROC_ROOT || '/proc';
  backend = fs.existsSync(`${root}/self/stat`) ? new ProcfsBackend(root) : new PsBackend();
  return backend;
}

/** Replaces the source (unit tests of a backend); null goes back to choosing on next use. */
export function setProcBackend(next: ProcBackend | null): void {
  backend = next;
}

/** True for the states of a process that has exited (zombie, dead). */
export function isExitedState(state: string): boolean {
  return state === 'Z' || state === 'X';
}

/** One process's stat; null when there is no such process; throws ProcUnreadableError. */
export function readProcStat(pid: number): ProcStat | null {
  return procBackend().readStat(pid);
}

/** Foreground process group of pid's controlling terminal (-1 without one), null when pid is gone; throws. */
export function readTerminalGroup(pid: number): number | null {
  return procBackend().readTerminalGroup(pid);
}

/** Start time of pid in clock ticks, or null when it does not exist; throws ProcUnreadableError. */
export function readStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/** Working directory of pid, or null when it is gone, not ours to read, or not available here. */
export function readCwd(pid: number): string | null {
  return procBackend().readCwd(pid);
}

/** argv of pid (empty for kernel threads, zombies, or when it cannot be read). */
export function readCmdline(pid: number): string[] {
  try {
    return procBackend().readCmdline(pid) ?? [];
  } catch {
    return [];
  }
}

/** A snapshot of the whole table (processes that vanish while reading are skipped); throws. */
export function readProcessTable(): Map<number, ProcStat> {
  return procBackend().readTable();
}

/** A snapshot of the processes that still run (zombies and dead entries left out); throws. */
export function readLiveProcessTable(): Map<number, ProcStat> {
  const table = readProcessTable();
  for (const [pid, stat] of table) if (isExitedState(stat.state)) table.delete(pid);
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

/** pid's ancestors, parent first, up to (and including) pid 1; throws when the chain cannot be read. */
export function listAncestors(pid: number): number[] {
  const out: number[] = [];
  let current = readProcStat(pid)?.ppid ?? 0;
  while (current > 0 && !out.includes(current)) {
    out.push(current);
    current = readProcStat(current)?.ppid ?? 0;
  }
  return out;
}

/** Liveness of an identity in a snapshot (a pid missing from it is dead). */
export function livenessIn(table: Map<number, ProcStat>, identity: ProcIdentity): Liveness {
  const stat = table.get(identity.pid);
  if (!stat) return 'dead';
  if (stat.startTicks !== identity.startTicks) return 'recycled';
  return isExitedState(stat.state) ? 'zombie' : 'alive';
}

/** Whether the identity's process still runs, exited, was replaced by another, or cannot be told now. */
export function checkLiveness(identity: ProcIdentity): Liveness {
  let stat: ProcStat | null;
  try {
    stat = readProcStat(identity.pid);
  } catch (err) {
    if (err instanceof ProcUnreadableError) return 'unknown';
    throw err;
  }
  return livenessIn(stat ? new Map([[stat.pid, stat]]) : new Map(), identity);
}

/** True while the process with this pid and start time runs; false when it exited, was replaced, or cannot be seen now. */
export function isSameProcessAlive(pid: number, startTicks: number): boolean {
  return checkLiveness({ pid, startTicks }) === 'alive';
}

/** Whether a process holding pid runs: 'unknown' when the table cannot be read. */
export function pidRunning(pid: number): boolean | 'unknown' {
  try {
    const stat = readProcStat(pid);
    return stat !== null && !isExitedState(stat.state);
  } catch (err) {
    if (err instanceof ProcUnreadableError) return 'unknown';
    throw err;
  }
}

/** Converts a start time in ticks to epoch seconds (resolution: one tick). */
export function startTicksToEpochSeconds(startTicks: number): number {
  return procBackend().startTicksEpochSeconds() + startTicks / clockTicksPerSecond();
}

/** A live process found by its environment tag, with the values of the keys asked for ("" when absent). */
export interface TaggedProcess {
  stat: ProcStat;
  values: Record<string, string>;
}

/**
 * Live processes whose initial environment holds `tag` ("KEY=VALUE"): the mark a daemon gives
 * every child it spawns, inherited by their descendants, so that a daemon that died between a
 * spawn and recording it leaves nothing the next one cannot find. Processes of other users
 * (environ unreadable) are skipped; throws ProcUnreadableError when the table cannot be read.
 */
export function findTagged(tag: string, keys: readonly string[]): TaggedProcess[] {
  const found: TaggedProcess[] = [];
  const backend = procBackend();
  for (const [pid, stat] of readLiveProcessTable()) {
    if (pid === process.pid) continue;
    const environ = backend.readEnviron(pid);
    if (!environ || !environ.includes(tag)) continue;
    const values: Record<string, string> = {};
    for (const key of keys) values[key] = environ.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
    found.push({ stat, values });
  }
  return found;
}

/** findTagged grouped by the value of idKey. */
export function findTaggedProcesses(tag: string, idKey: string): Map<string, ProcStat[]> {
  const found = new Map<string, ProcStat[]>();
  for (const { stat, values } of findTagged(tag, [idKey])) {
    const list = found.get(values[idKey]);
    if (list) list.push(stat);
    else found.set(values[idKey], [stat]);
  }
  return found;
}
