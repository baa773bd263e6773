// Writes down each session leader the daemon spawns (session_children, src/registry) before the
// client hears of the session, and forgets it once the leader exited, so that a daemon killed at
// any moment leaves the next one a row (or, for the instant between fork and the write, the
// RUNPM_SESSION_SCOPE tag in the child's environment) for every session child. Lives as long as
// the session table.
import type { SessionChildrenStore } from '../registry/session-children';
import { ProcUnreadableError, readProcStat } from '../proc/process-table';
import type { Session } from './session-table';

/** Exited leaders are forgotten in batches: the row of a dead leader is harmless until then. */
const FORGET_BATCH_DELAY_MS = 50;

export class SessionJournal {
  private pending: Array<{ pid: number; startTicks: number }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: SessionChildrenStore, private readonly onWriteError: (err: unknown) => void) {}

  /** Records a just-spawned session's leader; throws when it cannot be recorded (the caller kills it). */
  record(session: Session): void {
    if (session.startTicks === null) {
      // A leader that exits at once may be reaped before its start time is read (node-pty reaps
      // its children itself): gone, it leaves nothing to recover. Only an unreadable table refuses.
      if (readProcStat(session.pid) === null) return;
      throw new ProcUnreadableError(`the start time of session ${session.id}'s new process (pid ${session.pid})`, 'unreadable');
    }
    this.store.insert({
      pid: session.pid, startTicks: session.startTicks, sessionId: session.id, kind: session.kind, command: session.command,
      cwd: session.cwd, originator: session.originator, createdAt: session.createdAtMs / 1000,
    });
  }

  /** The leader exited: its row goes with the next batch. */
  forget(session: Session): void {
    if (session.startTicks === null) return;
    this.pending.push({ pid: session.pid, startTicks: session.startTicks });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FORGET_BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Writes the pending deletions now (timer, daemon shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rows = this.pending;
    this.pending = [];
    try {
      this.store.delete(rows);
    } catch (err) {
      // Kept for the next batch; at worst the next daemon finds dead leaders and drops them.
      this.pending.unshift(...rows);
      this.onWriteError(err);
    }
  }
}
