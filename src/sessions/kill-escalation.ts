// Kill escalation for one session's process tree: SIGTERM to the process group, then after the
// grace SIGKILL to the group and to every descendant that left it (found by walking /proc).
// One KillEscalation lives as long as its session and records the termination outcome.
import * as fs from 'node:fs';

/** grace_ms 0 means this. */
export const DEFAULT_KILL_GRACE_MS = 2000;

/** How a session reached its end (TerminationOutcome on the wire). */
export type TerminationOutcome = 'NATURAL_EXIT' | 'SOFT_EXIT' | 'HARD_KILLED';

interface ProcInfo {
  ppid: number;
  startTime: string;
}

/** Reads pid → (ppid, start time) for every process in /proc; start time tells reused pids apart. */
function readProcTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return table;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces and parens).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(pid, { ppid: Number(rest[1]), startTime: rest[19] ?? '' });
    } catch {
      // Exited while we looked.
    }
  }
  return table;
}

/** Every descendant of the roots now alive, as pid → start time (roots themselves excluded). */
export function findDescendants(roots: Iterable<number>): Map<number, string> {
  const table = readProcTable();
  const children = new Map<number, number[]>();
  for (const [pid, info] of table) {
    const list = children.get(info.ppid);
    if (list) list.push(pid);
    else children.set(info.ppid, [pid]);
  }
  const found = new Map<number, string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const child of children.get(pid) ?? []) {
      if (found.has(child)) continue;
      found.set(child, table.get(child)!.startTime);
      queue.push(child);
    }
  }
  return found;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // ESRCH: already gone. EPERM: not ours to kill.
  }
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * The terminate schedule of one process group led by `pid` (spawned detached, so pgid = pid).
 * The session calls noteExit() when its leader exits so the outcome can be recorded.
 */
export class KillEscalation {
  private requested = false;
  private hardKilled = false;
  private exited = false;
  private timer: NodeJS.Timeout | null = null;
  /** Descendants seen so far: they may leave the group or be reparented once the leader dies. */
  private readonly known = new Map<number, string>();

  constructor(readonly pid: number) {}

  /** NATURAL_EXIT unless terminate() ran first; null while the leader lives. */
  get outcome(): TerminationOutcome | null {
    if (!this.exited) return null;
    if (this.hardKilled) return 'HARD_KILLED';
    return this.requested ? 'SOFT_EXIT' : 'NATURAL_EXIT';
  }

  /** True once terminate() or kill() was called. */
  get terminating(): boolean {
    return this.requested;
  }

  /** Starts the schedule (returns at once): SIGTERM now, SIGKILL after graceMs (0 = default). */
  terminate(graceMs: number): void {
    if (this.exited || this.requested) return;
    this.requested = true;
    this.remember();
    signal(-this.pid, 'SIGTERM');
    const grace = graceMs > 0 ? graceMs : DEFAULT_KILL_GRACE_MS;
    // The timer runs even if the leader exits first: grandchildren may ignore SIGTERM.
    this.timer = setTimeout(() => this.hardKill(), grace);
  }

  /** SIGKILLs the group and every known or current descendant at once. */
  kill(): void {
    if (!this.exited) this.requested = true;
    this.hardKill();
  }

  /** Called when the leader has exited. */
  noteExit(): void {
    this.exited = true;
  }

  /** Stops a pending SIGKILL (the session is being discarded after everything died). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private remember(): void {
    const roots = [this.pid, ...this.known.keys()];
    for (const [pid, start] of findDescendants(roots)) this.known.set(pid, start);
  }

  private hardKill(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.remember();
    if (!this.exited) this.hardKilled = true;
    signal(-this.pid, 'SIGKILL');
    for (const [pid, start] of this.known) {
      // Only the same process: a pid reused since we saw it has another start time.
      if (startTimeOf(pid) === start) signal(pid, 'SIGKILL');
    }
    this.known.clear();
  }
}
