// What every session kind does with its child the same way: record the exit once, escalate
// terminate (soft signal → SIGTERM → SIGKILL of the tree after the grace), report memory held by
// its rings, and free everything when it leaves the table. Pipe and PTY sessions extend it.
import { SessionTermination, type TerminationOutcome } from './termination';
import type { OutputStream } from './output-stream';
import type { ExitInfo } from './session-table';

export abstract class ChildSession {
  abstract readonly id: string;
  abstract readonly streams: ReadonlyMap<string, OutputStream>;
  protected exitInfo: ExitInfo | null = null;
  /** Set by trackChild() as soon as the child's pid is known. */
  protected killer!: SessionTermination;
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

  /** Starts SIGTERM → grace → SIGKILL of the tree; returns at once. No-op once exited. */
  terminate(graceMs: number): void {
    if (this.exitInfo) return;
    this.sendSoftSignal();
    this.killer.terminate(graceMs);
  }

  /** SIGKILLs the tree at once (immediate shutdown). */
  kill(): void {
    this.killer.kill();
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
