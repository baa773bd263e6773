// PROCESS observation: the descendants of watched sessions, seen by polling the process table.
// One timer for every watched session, running only while one is watched. A descendant is known by
// identity (pid + start time), so one that escapes its parent (reparented to init) is still followed
// and a reused pid is never taken for it. N.B. a descendant living shorter than one poll interval
// may start and exit unseen: polling is all /proc offers without privileges. Descendants are the
// processes below the session's process, and the members of its (setsid) session, so one orphaned
// between two polls is still found.
import { buildChildrenMap, readProcessTable, startTicksToEpochSeconds, type ProcStat } from '../proc/process-table';
import { clockTicksPerSecond } from '../proc/clock';

export interface DescendantChange {
  kind: 'descendant-started' | 'descendant-exited';
  pid: number;
  comm: string;
}

interface Known {
  startTicks: number;
  comm: string;
}

interface Watched {
  /** The session's process, or null once it is gone. */
  leader: { pid: number; startTicks: number } | null;
  /**
   * The session's process as it started: it leads its own session (setsid), so a process of that
   * session id started after it is one of its descendants even once reparented (a child forked
   * just before the leader exited, which no poll saw under it). Null when unknown.
   */
  sessionLeader: { pid: number; startTicks: number } | null;
  known: Map<number, Known>;
  onChanges: (changes: DescendantChange[]) => void;
  /** Told once the leader is gone and every known descendant has exited. */
  onAllGone: () => void;
  /** False until the table was read once (the baseline). */
  verified: boolean;
}

/** Polls the descendants of every watched session; reports starts and exits per session. */
export class DescendantWatcher {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pollMs: number,
    private readonly readTable: () => Map<number, ProcStat> = readProcessTable,
  ) {}

  /** Sessions watched now. */
  get size(): number {
    return this.watched.size;
  }

  /**
   * Starts watching a session's tree. Descendants already running are taken as they are (not
   * announced; their exits are). A leader already gone leaves its session's members to follow.
   */
  watch(key: string, leaderRef: { pid: number; createdAtMs: number }, onChanges: Watched['onChanges'], onAllGone: () => void): void {
    if (this.watched.has(key)) return;
    // It started no later than the daemon recorded it (a second of slack for the clock).
    const earliest = ticksAt(leaderRef.createdAtMs - 1000);
    const w: Watched = { leader: null, sessionLeader: { pid: leaderRef.pid, startTicks: earliest }, known: new Map(), onChanges, onAllGone, verified: false };
    this.watched.set(key, w);
    const table = this.tryReadTable();
    // An unreadable table (no fd left) concludes nothing: the first poll that reads it takes the baseline.
    if (table) this.takeBaseline(key, w, table, leaderRef.pid);
    if (this.watched.has(key)) this.schedule();
  }

  /** The leader as it is now and the descendants already running (not announced). */
  private takeBaseline(key: string, w: Watched, table: Map<number, ProcStat>, leaderPid: number): void {
    const stat = table.get(leaderPid);
    if (stat && !isExited(stat) && stat.startTicks >= w.sessionLeader!.startTicks) {
      w.leader = { pid: stat.pid, startTicks: stat.startTicks };
      w.sessionLeader = w.leader;
    }
    for (const d of walk(w, table)) w.known.set(d.pid, { startTicks: d.startTicks, comm: d.comm });
    w.verified = true;
    this.finishIfGone(key, w);
  }

  private tryReadTable(): Map<number, ProcStat> | null {
    try {
      return this.readTable();
    } catch {
      return null;
    }
  }

  unwatch(key: string): void {
    this.watched.delete(key);
    if (this.watched.size === 0) this.stop();
  }

  /** One poll now (the timer calls it; tests may too). */
  poll(): void {
    if (this.watched.size === 0) return;
    const table = this.tryReadTable();
    if (!table) return; // unknown this time: nothing started or exited as far as we can tell
    for (const [key, w] of [...this.watched]) {
      if (!w.verified) {
        this.takeBaseline(key, w, table, w.sessionLeader!.pid);
        continue;
      }
      const changes: DescendantChange[] = [];
      for (const [pid, k] of w.known) {
        const stat = table.get(pid);
        if (!stat || stat.startTicks !== k.startTicks || isExited(stat)) {
          w.known.delete(pid);
          changes.push({ kind: 'descendant-exited', pid, comm: k.comm });
        }
      }
      if (w.leader) {
        const stat = table.get(w.leader.pid);
        if (!stat || stat.startTicks !== w.leader.startTicks || isExited(stat)) w.leader = null;
      }
      for (const d of walk(w, table)) {
        if (w.known.has(d.pid)) continue;
        w.known.set(d.pid, { startTicks: d.startTicks, comm: d.comm });
        changes.push({ kind: 'descendant-started', pid: d.pid, comm: d.comm });
      }
      if (changes.length > 0) w.onChanges(changes);
      this.finishIfGone(key, w);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private finishIfGone(key: string, w: Watched): boolean {
    if (w.leader || w.known.size > 0) return false;
    this.unwatch(key);
    w.onAllGone();
    return true;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }
}

/** Clock ticks since boot at a wall-clock time (the unit of a process's start time). */
function ticksAt(epochMs: number): number {
  return Math.max(0, Math.floor((epochMs / 1000 - startTicksToEpochSeconds(0)) * clockTicksPerSecond()));
}

function isExited(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** A live member of the leader's session other than the leader (a pid reused as a new session's leader is not). */
function inSession(stat: ProcStat, sessionLeader: Watched['sessionLeader']): boolean {
  return sessionLeader !== null && stat.session === sessionLeader.pid && stat.pid !== sessionLeader.pid
    && stat.startTicks >= sessionLeader.startTicks && !isExited(stat);
}

/** Live processes below the leader, in its session, and below every known descendant (escaped subtrees too). */
function walk(w: Watched, table: Map<number, ProcStat>): ProcStat[] {
  const children = buildChildrenMap(table);
  const roots: Array<{ pid: number; startTicks: number }> = [];
  if (w.leader) roots.push(w.leader);
  for (const [pid, k] of w.known) roots.push({ pid, startTicks: k.startTicks });
  const out: ProcStat[] = [];
  const seen = new Set(roots.map((r) => r.pid));
  const queue = [...roots];
  for (const stat of table.values()) {
    if (seen.has(stat.pid) || !inSession(stat, w.sessionLeader)) continue;
    seen.add(stat.pid);
    out.push(stat);
    queue.push({ pid: stat.pid, startTicks: stat.startTicks });
  }
  for (let i = 0; i < queue.length; i++) {
    for (const child of children.get(queue[i].pid) ?? []) {
      const stat = table.get(child)!;
      // A child cannot start before its parent: an older "child" is a pid-reuse artefact.
      if (seen.has(child) || stat.startTicks < queue[i].startTicks || isExited(stat)) continue;
      seen.add(child);
      out.push(stat);
      queue.push({ pid: child, startTicks: stat.startTicks });
    }
  }
  return out;
}
