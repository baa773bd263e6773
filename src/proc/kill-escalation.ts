// Stopping a group leader's whole tree, for sessions and services alike: SIGTERM to the group, a
// grace period, then SIGKILL to the group and to every process that escaped it (setsid, setpgid,
// double fork). Processes are named by pid + start time so a reused pid is never signalled. One
// GroupEscalation lives as long as its leader's session or service run.
import {
  buildChildrenMap, isSameProcessAlive, readLiveProcessTable, readStartTime, type ProcIdentity, type ProcStat,
} from './process-table';

/** How often the tree is rescanned (new forks, exits) while waiting for it to go. */
export const RESCAN_INTERVAL_MS = 50;
/** After SIGKILL, how long to keep checking before giving up (a D-state process may linger). */
export const KILL_SETTLE_MS = 5000;

/** Many trees stopping at once (stop all, shutdown) share one /proc walk per this many ms. */
const SNAPSHOT_TTL_MS = 20;
let snapshot: { at: number; table: Map<number, ProcStat> } | null = null;

/** Live processes from a walk at most SNAPSHOT_TTL_MS old; `fresh` forces a new walk. */
function liveProcesses(fresh = false): Map<number, ProcStat> {
  const now = Date.now();
  if (fresh || !snapshot || now - snapshot.at > SNAPSHOT_TTL_MS) snapshot = { at: now, table: readLiveProcessTable() };
  return snapshot.table;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // ESRCH: already gone. EPERM: not ours to kill.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The processes of the tree led by `rootPid` in one snapshot (the leader was spawned detached, so
 * its group and session ids equal its pid): members of that group or session, and every
 * descendant by ppid even if it moved to another group or session. `exclude` (the daemon) is
 * never part of it.
 */
export function collectGroupTree(rootPid: number, table: Map<number, ProcStat>, exclude = process.pid): ProcStat[] {
  const children = buildChildrenMap(table);
  const found = new Map<number, ProcStat>();
  for (const p of table.values()) if (p.pgrp === rootPid || p.session === rootPid || p.pid === rootPid) found.set(p.pid, p);
  const queue = [...found.keys()];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (found.has(child) || child === exclude) continue;
      found.set(child, table.get(child)!);
      queue.push(child);
    }
  }
  found.delete(exclude);
  return [...found.values()];
}

export interface GroupEscalationOptions {
  /** Runs once, just before the first SIGKILL is sent (sessions record HARD_KILLED from it). */
  onHardKill?: () => void;
}

/**
 * The stop schedule of one process group whose leader is `leader` (pgid = sid = leader pid).
 * It remembers every process it has seen in the tree, so descendants reparented to init after
 * the leader died are still found. A null start time means "whoever holds the pid now".
 */
export class GroupEscalation {
  private readonly seen = new Map<number, ProcStat>();
  private leaderStartTicks: number | null;
  /** Bumped by cancel(): loops started under an older generation stop at their next wake. */
  private generation = 0;
  /** The SIGKILL loop under way, with the generation it belongs to. */
  private killing: { generation: number; done: Promise<number> } | null = null;
  private hardKillNoted = false;

  constructor(readonly leaderPid: number, leaderStartTicks: number | null = readStartTime(leaderPid), private readonly opts: GroupEscalationOptions = {}) {
    this.leaderStartTicks = leaderStartTicks;
  }

  /** The leader's identity (start time null when it was gone before we looked). */
  get leader(): { pid: number; startTicks: number | null } {
    return { pid: this.leaderPid, startTicks: this.leaderStartTicks };
  }

  /**
   * SIGTERM (or firstSignal) to the group now; after graceMs SIGKILL to whatever of the tree is
   * left. Resolves early once everything is gone, with how many processes needed SIGKILL.
   */
  async terminate(graceMs: number, firstSignal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const generation = this.generation;
    // The first look must be fresh: the run may have started after the last cached walk.
    this.rescan(liveProcesses(true));
    if (this.seen.size === 0) return 0;
    if (this.groupAlive(liveProcesses())) signal(-this.leaderPid, firstSignal);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      await sleep(Math.min(RESCAN_INTERVAL_MS, Math.max(1, deadline - Date.now())));
      if (generation !== this.generation) return 0;
      if (this.killing) return this.killing.done;
      const table = liveProcesses();
      this.rescan(table);
      if (this.alive(table).length === 0) return 0;
    }
    return this.kill();
  }

  /**
   * SIGKILLs the group and every live process seen in the tree now (the first pass runs before
   * this returns), then repeats until they are gone or KILL_SETTLE_MS passed. Resolves with how
   * many processes received SIGKILL. A kill already under way (and not cancelled) is shared.
   */
  kill(): Promise<number> {
    if (this.killing?.generation === this.generation) return this.killing.done;
    const run = { generation: this.generation, done: Promise.resolve(0) };
    run.done = this.killUntilGone(run.generation).finally(() => {
      if (this.killing === run) this.killing = null;
    });
    this.killing = run;
    return run.done;
  }

  /** Stops pending work: a grace wait ends without SIGKILL, a kill loop stops retrying. */
  cancel(): void {
    this.generation++;
  }

  private async killUntilGone(generation: number): Promise<number> {
    const killed = new Set<number>();
    const settleDeadline = Date.now() + KILL_SETTLE_MS;
    for (let pass = 0; ; pass++) {
      // Fresh reads: the processes just killed must not look alive from a cached walk.
      this.rescan(liveProcesses(true));
      const left = [...this.seen.values()].filter((p) => isSameProcessAlive(p.pid, p.startTicks));
      if (left.length === 0 || Date.now() > settleDeadline) return killed.size;
      if (!this.hardKillNoted) {
        this.hardKillNoted = true;
        this.opts.onHardKill?.();
      }
      if (left.some((p) => p.pgrp === this.leaderPid)) signal(-this.leaderPid, 'SIGKILL');
      for (const p of left) {
        signal(p.pid, 'SIGKILL');
        killed.add(p.pid);
      }
      await sleep(RESCAN_INTERVAL_MS);
      if (generation !== this.generation) return killed.size;
    }
  }

  /** Adds the tree's current members and the new children of members already seen. */
  private rescan(table: Map<number, ProcStat>): void {
    // The pid names our group and session if it is our leader, or if no process holds it: Linux
    // never hands out a pid still in use as a group or session id. Another process with that pid
    // means the group is gone and the number reused.
    const holder = table.get(this.leaderPid);
    if (holder && this.leaderStartTicks === null) this.leaderStartTicks = holder.startTicks;
    if (!holder || holder.startTicks === this.leaderStartTicks) {
      for (const p of collectGroupTree(this.leaderPid, table)) if (!this.seen.has(p.pid)) this.seen.set(p.pid, p);
    }
    // Children of processes we already know (still the same process), wherever they moved.
    for (const p of table.values()) {
      if (this.seen.has(p.pid) || p.pid === process.pid) continue;
      const parent = this.seen.get(p.ppid);
      if (parent && table.get(parent.pid)?.startTicks === parent.startTicks) this.seen.set(p.pid, p);
    }
  }

  /** Seen processes that still run in the snapshot. */
  private alive(table: Map<number, ProcStat>): ProcStat[] {
    return [...this.seen.values()].filter((p) => table.get(p.pid)?.startTicks === p.startTicks);
  }

  /** A pid in use as a group id is never handed out again, so the group is ours while a member lives. */
  private groupAlive(table: Map<number, ProcStat>): boolean {
    return this.alive(table).some((p) => p.pgrp === this.leaderPid);
  }
}

/** Identity helper for callers that hold pid + start ticks: stops that tree (see terminate()). */
export function terminateGroupTree(leader: ProcIdentity, graceMs: number, firstSignal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  return new GroupEscalation(leader.pid, leader.startTicks).terminate(graceMs, firstSignal);
}
