// Stopping a process tree, the one place the daemon does it, with two strategies over one tree walk:
// - group escalation (sessions, services): SIGTERM to the leader's group, a grace period, then
//   SIGKILL to the group and to every process that escaped it (setsid, setpgid, double fork);
//   one GroupEscalation lives as long as its leader's session or service run;
// - freeze and kill (KILL_TREE, orphan reaping): SIGSTOP the root and every descendant so nothing
//   can fork away, then SIGKILL them all and retry until they are gone or the deadline passes.
// Processes are named by pid + start time so a reused pid is never signalled. While the process
// table cannot be read (EMFILE...), nothing is signalled and nothing is taken for gone: both wait
// for a readable table until their deadline.
import { performance } from 'node:perf_hooks';
import {
  buildChildrenMap, checkLiveness, livenessIn, readLiveProcessTable, readProcessTable, readStartTime, ProcUnreadableError, type ProcIdentity, type ProcStat,
} from './process-table';

/** How often the tree is rescanned (new forks, exits) while waiting for it to go. */
export const RESCAN_INTERVAL_MS = 50;
/** After SIGKILL, how long to keep checking before giving up (a D-state process may linger). */
export const KILL_SETTLE_MS = 5000;
const FREEZE_RETRY_INTERVAL_MS = 20;
/** Freeze passes before giving up on catching forks (each pass picks up new children). */
const MAX_FREEZE_PASSES = 50;

/** Many trees stopping at once (stop all, shutdown) share one table walk per this many ms. */
const SNAPSHOT_TTL_MS = 20;
/** The last walk: when it began and when it ended (performance.now()). */
let snapshot: { at: number; endedAt: number; table: Map<number, ProcStat> } | null = null;

/**
 * Live processes from a walk that ended at most SNAPSHOT_TTL_MS ago, or with `since` from a walk
 * that began after that moment: a thousand sessions terminated at once share one walk instead of
 * a thousand synchronous ones (which kept the daemon from answering for 20 s and more).
 * Null when the table cannot be read.
 */
function liveProcesses(since?: number): Map<number, ProcStat> | null {
  const now = performance.now();
  const usable = snapshot !== null && (since === undefined ? now - snapshot.endedAt <= SNAPSHOT_TTL_MS : snapshot.at > since);
  if (!usable) {
    try {
      const table = readLiveProcessTable();
      snapshot = { at: now, endedAt: performance.now(), table };
    } catch (err) {
      if (err instanceof ProcUnreadableError) return null;
      throw err;
    }
  }
  return snapshot!.table;
}

function signal(target: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch {
    return false; // ESRCH: already gone. EPERM: not ours to kill.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The tree of `root` in one snapshot: with `group`, every member of the root's group or session
 * (a leader spawned detached has pgid = sid = its pid); then every descendant by ppid, even one that
 * moved to another group or session. A child older than its parent is a pid-reuse artefact and
 * is left out. `exclude` (the daemon) is never part of it.
 */
export function collectTree(root: number, table: Map<number, ProcStat>, opts: { group: boolean; exclude?: number }): ProcStat[] {
  const exclude = opts.exclude ?? process.pid;
  const children = buildChildrenMap(table);
  const found = new Map<number, ProcStat>();
  const rootStat = table.get(root);
  if (rootStat) found.set(root, rootStat);
  if (opts.group) for (const p of table.values()) if (p.pgrp === root || p.session === root) found.set(p.pid, p);
  const queue = [...found.values()];
  while (queue.length > 0) {
    const parent = queue.pop()!;
    for (const child of children.get(parent.pid) ?? []) {
      const stat = table.get(child)!;
      if (found.has(child) || child === exclude || stat.startTicks < parent.startTicks) continue;
      found.set(child, stat);
      queue.push(stat);
    }
  }
  found.delete(exclude);
  return [...found.values()];
}

/** The group-escalation tree of a leader (group, session, escaped descendants). */
export function collectGroupTree(rootPid: number, table: Map<number, ProcStat>, exclude = process.pid): ProcStat[] {
  return collectTree(rootPid, table, { group: true, exclude });
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
  /** When this escalation was made: a walk that began later has seen its leader. */
  private readonly createdAt = performance.now();

  constructor(readonly leaderPid: number, leaderStartTicks: number | null | undefined = undefined, private readonly opts: GroupEscalationOptions = {}) {
    this.leaderStartTicks = leaderStartTicks === undefined ? startTicksOrNull(leaderPid) : leaderStartTicks;
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
    const deadline = Date.now() + graceMs;
    // The first look must have begun after the escalation was made: the run may have started
    // after the last cached walk.
    let table = liveProcesses(this.createdAt);
    while (!table && Date.now() < deadline) {
      await sleep(RESCAN_INTERVAL_MS);
      if (generation !== this.generation) return 0;
      table = liveProcesses(performance.now());
    }
    if (table) {
      this.rescan(table);
      if (this.seen.size === 0) return 0;
      if (this.groupAlive(table)) signal(-this.leaderPid, firstSignal);
      else if (this.leaderIsNoGroupLeader(table)) for (const p of this.alive(table)) signal(p.pid, firstSignal);
    }
    while (Date.now() < deadline) {
      await sleep(Math.min(RESCAN_INTERVAL_MS, Math.max(1, deadline - Date.now())));
      if (generation !== this.generation) return 0;
      if (this.killing) return this.killing.done;
      const now = liveProcesses();
      if (!now) continue;
      this.rescan(now);
      if (this.alive(now).length === 0) return 0;
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
    let lastSignalled = performance.now();
    for (;;) {
      // A walk begun after the last SIGKILL sent: the processes just killed must not look alive
      // from an older walk (one shared with other trees is fine).
      const table = liveProcesses(lastSignalled);
      if (table) {
        this.rescan(table);
        const left = this.alive(table);
        if (left.length === 0) return killed.size;
        if (Date.now() > settleDeadline) return killed.size;
        if (!this.hardKillNoted) {
          this.hardKillNoted = true;
          this.opts.onHardKill?.();
        }
        if (left.some((p) => p.pgrp === this.leaderPid)) signal(-this.leaderPid, 'SIGKILL');
        for (const p of left) {
          signal(p.pid, 'SIGKILL');
          killed.add(p.pid);
        }
        lastSignalled = performance.now();
      } else if (Date.now() > settleDeadline) {
        return killed.size; // Never readable again before the deadline: nothing may be signalled blind.
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
    return [...this.seen.values()].filter((p) => livenessIn(table, p) === 'alive');
  }

  /**
   * The leader runs but leads no group (a cluster worker lives in runpmd's group): the stop signal
   * goes to it and its descendants one by one, never to a group it shares with the daemon.
   */
  private leaderIsNoGroupLeader(table: Map<number, ProcStat>): boolean {
    const leader = table.get(this.leaderPid);
    return leader !== undefined && leader.startTicks === this.leaderStartTicks && leader.pgrp !== this.leaderPid;
  }

  /** A pid in use as a group id is never handed out again, so the group is ours while a member lives. */
  private groupAlive(table: Map<number, ProcStat>): boolean {
    return this.alive(table).some((p) => p.pgrp === this.leaderPid);
  }
}

function startTicksOrNull(pid: number): number | null {
  try {
    return readStartTime(pid);
  } catch (err) {
    if (err instanceof ProcUnreadableError) return null;
    throw err;
  }
}

/** Group escalation of a leader known by pid + start ticks (services, adopted runs): see terminate(). */
export function terminateGroupTree(leader: ProcIdentity, graceMs: number, firstSignal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  return new GroupEscalation(leader.pid, leader.startTicks).terminate(graceMs, firstSignal);
}

export interface KillTreeResult {
  /** Processes that received SIGKILL and are gone (exited or zombie) by the end. */
  killed: number;
  /** Processes that were signalled but still ran at the deadline, or could not be checked. */
  survivors: ProcIdentity[];
}

/** The live identities of root's tree now; null when the table cannot be read. */
function treeNow(root: ProcIdentity): ProcIdentity[] | null {
  let table: Map<number, ProcStat>;
  try {
    table = readProcessTable();
  } catch (err) {
    if (err instanceof ProcUnreadableError) return null;
    throw err;
  }
  if (livenessIn(table, root) !== 'alive') return [];
  return collectTree(root.pid, table, { group: false }).map((p) => ({ pid: p.pid, startTicks: p.startTicks }));
}

/** Sends sig to the identity if its pid still has the same start time; false if gone, refused or unknown. */
export function signalIdentity(identity: ProcIdentity, sig: NodeJS.Signals): boolean {
  if (checkLiveness(identity) !== 'alive') return false;
  // N.B. a tiny race remains between this check and kill(2); pidfds would close it, Node has none.
  return signal(identity.pid, sig);
}

/** True unless the identity is known to be gone (a process we cannot check counts as still there). */
function stillThere(identity: ProcIdentity): boolean {
  const liveness = checkLiveness(identity);
  return liveness === 'alive' || liveness === 'unknown';
}

/**
 * Freeze-and-kill of root and all its descendants; runs when a caller asks for a tree to be torn
 * down (KILL_TREE, orphan reaping). `protect` pids are never signalled.
 */
export async function killProcessTree(root: ProcIdentity, opts: { timeoutMs: number; protect?: Set<number> }): Promise<KillTreeResult> {
  const protect = opts.protect ?? new Set<number>();
  const members = new Map<number, ProcIdentity>();
  const frozen = new Set<number>();
  // Freeze top-down until a pass finds nobody new: a stopped process cannot fork.
  for (let pass = 0; pass < MAX_FREEZE_PASSES; pass++) {
    let found = false;
    const roots = pass === 0 ? [root] : [...members.values()];
    for (const r of roots) {
      const tree = treeNow(r);
      if (tree === null) return { killed: 0, survivors: [root, ...members.values()] };
      for (const id of tree) {
        if (protect.has(id.pid) || members.has(id.pid)) continue;
        members.set(id.pid, id);
        found = true;
      }
    }
    for (const id of members.values()) {
      if (!frozen.has(id.pid) && signalIdentity(id, 'SIGSTOP')) frozen.add(id.pid);
    }
    if (!found) break;
  }
  const signalled = [...members.values()].filter((id) => signalIdentity(id, 'SIGKILL'));
  const deadline = Date.now() + opts.timeoutMs;
  let survivors = signalled.filter(stillThere);
  while (survivors.length > 0 && Date.now() < deadline) {
    await sleep(FREEZE_RETRY_INTERVAL_MS);
    for (const id of survivors) signalIdentity(id, 'SIGKILL');
    survivors = survivors.filter(stillThere);
  }
  return { killed: signalled.length - survivors.length, survivors };
}
