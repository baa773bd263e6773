// How one session's tree is stopped and how it ended: src/proc's group escalation (SIGTERM to the
// group, then after the grace SIGKILL to the group and every descendant that left it) plus the
// termination outcome the wire reports. One SessionTermination lives as long as its session.
import { GroupEscalation } from '../proc/kill-escalation';

/** grace_ms 0 means this. */
export const DEFAULT_KILL_GRACE_MS = 2000;

/** How a session reached its end (TerminationOutcome on the wire). */
export type TerminationOutcome = 'NATURAL_EXIT' | 'SOFT_EXIT' | 'HARD_KILLED';

/**
 * The terminate schedule of one process group led by `pid` (spawned detached, so pgid = pid).
 * The session calls noteExit() when its leader exits so the outcome can be recorded.
 */
export class SessionTermination {
  private requested = false;
  private hardKilled = false;
  private exited = false;
  private readonly group: GroupEscalation;

  // Built right after spawn: until the daemon reaps the leader, its start time is readable.
  constructor(readonly pid: number) {
    this.group = new GroupEscalation(pid, undefined, {
      onHardKill: () => {
        if (!this.exited) this.hardKilled = true;
      },
    });
  }

  /** The leader's start ticks, read right after the spawn; null when the table could not be read then. */
  get leaderStartTicks(): number | null {
    return this.group.leader.startTicks;
  }

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
    // The schedule runs on after the leader exits: grandchildren may ignore SIGTERM.
    void this.group.terminate(graceMs > 0 ? graceMs : DEFAULT_KILL_GRACE_MS).catch(() => undefined);
  }

  /** SIGKILLs the group and every known or current descendant at once. */
  kill(): void {
    if (!this.exited) this.requested = true;
    void this.group.kill().catch(() => undefined);
  }

  /** Called when the leader has exited. */
  noteExit(): void {
    this.exited = true;
  }

  /** Stops a pending SIGKILL (the session is being discarded after everything died). */
  dispose(): void {
    this.group.cancel();
  }
}
