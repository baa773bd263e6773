// Stopping a service's whole process tree: SIGTERM to its group, a grace period, then SIGKILL to
// the group and to every descendant that escaped it (setsid, setpgid, double fork). Each call
// lives until every process it saw is gone; processes are named by pid + start time so a reused
// pid is never signalled.
import { collectServiceTree, isSameProcessAlive, listProcesses, type ProcStat } from './proc';

/** How often the tree is rescanned (new forks, exits) while waiting for it to go. */
const RESCAN_INTERVAL_MS = 50;
/** After SIGKILL, how long to keep checking before giving up (a D-state process may linger). */
const KILL_SETTLE_MS = 5000;

/** Many trees stopping at once (stop all, shutdown) share one /proc walk per this many ms. */
const SNAPSHOT_TTL_MS = 20;
let snapshot: { at: number; all: ProcStat[] } | null = null;

function currentProcesses(): ProcStat[] {
  const now = Date.now();
  if (!snapshot || now - snapshot.at > SNAPSHOT_TTL_MS) snapshot = { at: now, all: listProcesses() };
  return snapshot.all;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already, or not ours: nothing to do.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops the tree of a service leader (pid + start time): SIGTERM (or `firstSignal`) to the
 * group, wait up to graceMs for every member and descendant to exit, then SIGKILL whatever is
 * left. Resolves with how many processes needed SIGKILL.
 */
export async function killServiceTree(rootPid: number, rootStartTime: number, graceMs: number, firstSignal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  const seen = new Map<number, ProcStat>();
  const rescan = () => {
    // The pid names our group and session if it is our leader, or if no process holds it: Linux
    // never hands out a pid still in use as a group or session id. Another process with that pid
    // means the group is gone and the number reused.
    const all = currentProcesses();
    const holder = all.find((p) => p.pid === rootPid);
    if (!holder || holder.startTime === rootStartTime) {
      for (const p of collectServiceTree(rootPid, all)) if (!seen.has(p.pid)) seen.set(p.pid, p);
    }
    // Children of processes we already know (still the same process), wherever they moved.
    const startOf = new Map(all.map((p) => [p.pid, p.startTime]));
    for (const p of all) {
      const parent = seen.get(p.ppid);
      if (parent && startOf.get(parent.pid) === parent.startTime && !seen.has(p.pid)) seen.set(p.pid, p);
    }
  };
  const alive = () => {
    const startOf = new Map(currentProcesses().map((p) => [p.pid, p.startTime]));
    return [...seen.values()].filter((p) => startOf.get(p.pid) === p.startTime);
  };

  // The first look must be fresh: the run may have started after the last cached walk.
  snapshot = null;
  rescan();
  if (seen.size === 0) return 0;
  // A pid in use as a group id is never handed out again, so the group is ours while a member lives.
  const groupAlive = () => alive().some((p) => p.pgrp === rootPid);
  if (groupAlive()) signal(-rootPid, firstSignal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(Math.min(RESCAN_INTERVAL_MS, Math.max(1, deadline - Date.now())));
    rescan();
    if (alive().length === 0) return 0;
  }
  snapshot = null;
  const killed = new Set<number>();
  const settleDeadline = Date.now() + KILL_SETTLE_MS;
  for (;;) {
    rescan();
    // Fresh read: the processes we just killed must not look alive from a cached walk.
    const left = [...seen.values()].filter((p) => isSameProcessAlive(p.pid, p.startTime));
    if (left.length === 0 || Date.now() > settleDeadline) return killed.size;
    if (groupAlive()) signal(-rootPid, 'SIGKILL');
    for (const p of left) {
      signal(p.pid, 'SIGKILL');
      killed.add(p.pid);
    }
    await sleep(RESCAN_INTERVAL_MS);
  }
}
