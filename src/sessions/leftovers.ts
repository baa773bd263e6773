// The processes of a session besides its leader: every live process in the leader's process group
// or session (the leader was spawned detached, so both ids equal its pid), such as a job a shell
// put in the background (`sleep 30 &`). They are part of the session: kill ends them, exec waits
// for them, the reaper keeps the session while they run. Read from /proc on demand; one table
// walk is shared by every session asking within SNAPSHOT_TTL_MS, and sessions waiting for their
// leftovers to go share one poll.
import { ProcUnreadableError, readLiveProcessTable, type ProcIdentity, type ProcStat } from '../proc/process-table';
import { signalIdentity } from '../proc/kill-escalation';

/** Sessions asking at about the same time (a list of many) share one /proc walk. */
const SNAPSHOT_TTL_MS = 20;
/** How often sessions waiting for their leftovers to end look again. */
export const LEFTOVER_POLL_MS = 200;

let snapshot: { at: number; table: Map<number, ProcStat> } | null = null;

/** Live processes from a walk at most SNAPSHOT_TTL_MS old (`fresh`: a new one); null when /proc cannot be read now. */
function liveTable(fresh = false): Map<number, ProcStat> | null {
  // Age from the walk's end: a walk of a large table takes longer than the TTL, and measured
  // from its start every session in a loop of many would walk again.
  if (fresh || !snapshot || Date.now() - snapshot.at > SNAPSHOT_TTL_MS) {
    try {
      const table = readLiveProcessTable();
      snapshot = { at: Date.now(), table };
    } catch (err) {
      if (err instanceof ProcUnreadableError) return null;
      throw err;
    }
  }
  return snapshot.table;
}

/**
 * Members of the group or session led by `leader` other than the leader itself. Processes that
 * started before the leader cannot be its jobs: a pid reused as another group id never matches.
 * `exclude` (the daemon) is never one.
 */
export function sessionMembers(leader: ProcIdentity, table: Map<number, ProcStat>, exclude = process.pid): ProcStat[] {
  const out: ProcStat[] = [];
  for (const p of table.values()) {
    if (p.pid === leader.pid || p.pid === exclude) continue;
    if ((p.pgrp === leader.pid || p.session === leader.pid) && p.startTicks >= leader.startTicks) out.push(p);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * A session's processes besides the leader. After the leader exited, once none is left the answer
 * stays "none" for good: the leader's pid may then be reused, and a new group of that number is
 * not ours. An unreadable /proc answers "none known" without settling.
 */
export class LeftoverTracker {
  private settled = false;

  constructor(private readonly leader: ProcIdentity) {}

  /** The members now. `leaderExited` lets an empty answer settle the tracker. */
  current(leaderExited: boolean): ProcStat[] {
    if (this.settled) return [];
    const table = liveTable();
    if (!table) return [];
    let left = sessionMembers(this.leader, table);
    if (left.length === 0 && leaderExited) {
      // Settling is for good: never on a shared walk that may predate the leader's last fork.
      const fresh = liveTable(true);
      if (!fresh) return [];
      left = sessionMembers(this.leader, fresh);
      if (left.length === 0) this.settled = true;
    }
    return left;
  }

  /** True once no member was found after the leader's exit. */
  get isSettled(): boolean {
    return this.settled;
  }

  /** Sends sig to every member (identity-checked); returns how many got it. */
  signal(sig: NodeJS.Signals, leaderExited: boolean, only?: (p: ProcStat) => boolean): number {
    let sent = 0;
    for (const p of this.current(leaderExited)) {
      if (only && !only(p)) continue;
      if (signalIdentity({ pid: p.pid, startTicks: p.startTicks }, sig)) sent++;
    }
    return sent;
  }
}

/** Trackers waiting to settle, with what to run once they did; polled together. */
const waiting = new Map<LeftoverTracker, Array<() => void>>();
let pollTimer: NodeJS.Timeout | null = null;

function poll(): void {
  for (const [tracker, done] of [...waiting]) {
    tracker.current(true);
    if (!tracker.isSettled) continue;
    waiting.delete(tracker);
    for (const fn of done) fn();
  }
  if (waiting.size === 0 && pollTimer) {
    clearInterval(pollTimer);
    pollTimer = null;
  }
}

/** Runs fn once the (exited leader's) tracker has no member left; at once when it is settled already. */
export function whenSettled(tracker: LeftoverTracker, fn: () => void): void {
  tracker.current(true);
  if (tracker.isSettled) {
    fn();
    return;
  }
  const list = waiting.get(tracker);
  if (list) list.push(fn);
  else waiting.set(tracker, [fn]);
  if (!pollTimer) {
    pollTimer = setInterval(poll, LEFTOVER_POLL_MS);
    pollTimer.unref();
  }
}

/** Stops waiting for a tracker (its session left the table). */
export function stopWaiting(tracker: LeftoverTracker): void {
  waiting.delete(tracker);
}
