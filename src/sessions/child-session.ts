// What every session kind does with its child the same way: record the exit once, escalate
// terminate (soft signal → SIGTERM → SIGKILL of the tree after the grace), report memory held by
// its rings, and free everything when it leaves the table. Pipe and PTY sessions extend it.
import { SessionTermination, type TerminationOutcome } from './termination';
import { LeftoverTracker, stopWaiting } from './leftovers';
import { GroupEscalation } from '../proc/kill-escalation';
import { DEFAULT_KILL_GRACE_MS } from './termination';
import type { OutputStream } from './output-stream';
import type { ExitInfo } from './session-table';

export abstract class ChildSession {
  abstract readonly id: string;
  abstract readonly streams: ReadonlyMap<string, OutputStream>;
  protected exitInfo: ExitInfo | null = null;
  /** Set by trackChild() as soon as the child's pid is known. */
  protected killer!: SessionTermination;
  private leftoverTracker: LeftoverTracker | null = null;
  /** Stops what an exited leader left running (terminate after the exit). */
  private leftoverEscalation: GroupEscalation | null = null;
  private resolveExit!: (info: ExitInfo) => void;
  private readonly exitPromise = new Promise<ExitInfo>((resolve) => (this.resolveExit = resolve));

  /** Null while the leader runs. */
  get exit(): ExitInfo | null {
    return this.exitInfo;
  }

  /** The leader's start ticks (its identity with the pid); null when they could not be read at spawn. */
  get startTicks(): number | null {
    return this.killer.leaderStartTicks;
  }

  /** How the session ended; null while it runs. */
  get terminationOutcome(): TerminationOutcome | null {
    return this.killer.outcome;
  }

  /**
   * Starts SIGTERM → grace → SIGKILL of the tree; returns at once with how many processes it
   * signalled: the leader and its group and session, or, once the leader exited, what it left
   * running there (0: nothing left to stop).
   */
  terminate(graceMs: number): number {
    if (this.exitInfo) return this.terminateLeftovers(graceMs);
    const members = this.leftovers().current(false).length;
    this.sendSoftSignal();
    this.killer.terminate(graceMs);
    return 1 + members;
  }

  /** SIGKILLs the tree at once (immediate shutdown), leftovers included. */
  kill(): void {
    this.killer.kill();
    if (this.exitInfo) this.leftovers().signal('SIGKILL', true);
  }

  /**
   * Sends one signal to the leader (while it runs) and every process of its group and session;
   * SIGKILL kills the whole tree. Returns how many processes got it (0: nothing runs any more).
   */
  signal(sig: NodeJS.Signals): number {
    const running = this.exitInfo === null;
    const members = this.leftovers().current(!running).length;
    if (sig === 'SIGKILL') {
      if (!running && members === 0) return 0;
      this.kill();
      return (running ? 1 : 0) + members;
    }
    let sent = 0;
    if (running) {
      try {
        // Our child, not reaped while it runs: the pid cannot be anyone else's.
        process.kill(this.killer.pid, sig);
        sent++;
      } catch {
        // It exited meanwhile.
      }
    }
    return sent + this.leftovers().signal(sig, !running);
  }

  /** Pids of what the exited leader left running in its group or session ([] while the leader runs). */
  leftoverPids(): number[] {
    if (!this.exitInfo) return [];
    return this.leftovers().current(true).map((p) => p.pid);
  }

  /** True once the leader exited and nothing of its group or session runs any more. */
  get settled(): boolean {
    if (!this.exitInfo) return false;
    this.leftovers().current(true);
    return this.leftovers().isSettled;
  }

  /** The leader's group and session members (made when first asked). */
  protected leftovers(): LeftoverTracker {
    this.leftoverTracker ??= new LeftoverTracker({ pid: this.killer.pid, startTicks: this.startTicks ?? 0 });
    return this.leftoverTracker;
  }

  // The leader is gone: SIGTERM to what it left (its group at once, the session's other members
  // one by one), SIGKILL to the lot after the grace.
  private terminateLeftovers(graceMs: number): number {
    const tracker = this.leftovers();
    const left = tracker.current(true);
    if (left.length === 0) return 0;
    tracker.signal('SIGTERM', true, (p) => p.pgrp !== this.killer.pid);
    this.leftoverEscalation ??= new GroupEscalation(this.killer.pid, this.startTicks);
    void this.leftoverEscalation.terminate(graceMs > 0 ? graceMs : DEFAULT_KILL_GRACE_MS).catch(() => undefined);
    return left.length;
  }

  /** Resolves once the leader has exited. */
  waitForExit(): Promise<ExitInfo> {
    return this.exitPromise;
  }

  /** Memory held by the session's rings (the exited-ring budget counts this). */
  heldBytes(): number {
    let total = 0;
    for (const s of new Set(this.streams.values())) total += s.ring.allocatedBytes;
    return total;
  }

  /** Frees what the session holds once it left the table: attachments end, a live child is killed. */
  dispose(reason: string): void {
    for (const s of new Set(this.streams.values())) s.abortAttachment(`session ${this.id} was removed: ${reason}`);
    this.killer.dispose();
    this.leftoverEscalation?.cancel();
    if (this.leftoverTracker) stopWaiting(this.leftoverTracker);
    if (!this.exitInfo) this.killer.kill();
  }

  /** Call once the child's pid is known (its process group is what terminate signals). */
  protected trackChild(pid: number): void {
    this.killer = new SessionTermination(pid);
  }

  /** Records the leader's exit (first call wins) and releases waitForExit(). */
  protected recordExit(info: ExitInfo): ExitInfo {
    if (this.exitInfo) return this.exitInfo;
    this.exitInfo = info;
    this.killer.noteExit();
    this.resolveExit(info);
    return info;
  }

  /** A kind's own first signal before the SIGTERM schedule (a terminal hangs up); none by default. */
  protected sendSoftSignal(): void {}
}
