// Minimal /proc reader for supervision: a process's identity (pid + start time, stat field 22),
// its parent, group and session, and whether it still runs. Read fresh on every call; nothing cached.
// (The registry's process-table.ts covers the same ground; the two are to be merged.)
import * as fs from 'node:fs';

export interface ProcStat {
  pid: number;
  /** One-letter state (R, S, D, Z, ...). */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks after boot when the process started; with pid it names one process for good. */
  startTime: number;
}

/** Reads /proc/<pid>/stat, or null when the process does not exist. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseProcStat(pid, text);
}

/** Parses a stat line; the command name in parentheses may itself hold spaces and ')'. */
export function parseProcStat(pid: number, text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  const startTime = Number(f[22 - 3]);
  if (!Number.isFinite(startTime)) return null;
  return { pid, state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), startTime };
}

/** True while pid runs and is the same process that started at startTime (zombies are gone). */
export function isSameProcessAlive(pid: number, startTime: number): boolean {
  const st = readProcStat(pid);
  return st !== null && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

/** Every live process's stat (one /proc walk). */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readProcStat(Number(entry));
    if (st && st.state !== 'Z' && st.state !== 'X') out.push(st);
  }
  return out;
}

/**
 * The processes belonging to a service whose leader is `rootPid` (spawned detached, so its
 * group and session ids equal its pid): members of that group or session, and every descendant
 * by ppid even if it moved to another group or session.
 */
export function collectServiceTree(rootPid: number, all: ProcStat[] = listProcesses()): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const p of all) {
    const list = byParent.get(p.ppid);
    if (list) list.push(p);
    else byParent.set(p.ppid, [p]);
  }
  const found = new Map<number, ProcStat>();
  for (const p of all) if (p.pgrp === rootPid || p.session === rootPid || p.pid === rootPid) found.set(p.pid, p);
  const queue = [...found.keys()];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const child of byParent.get(pid) ?? []) {
      if (found.has(child.pid) || child.pid === process.pid) continue;
      found.set(child.pid, child);
      queue.push(child.pid);
    }
  }
  found.delete(process.pid);
  return [...found.values()];
}
