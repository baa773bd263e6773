// The session table: every daemon-owned session (pipe and PTY) keyed by UUID v4, for the daemon's
// life. Generic operations (list, backlog, purge, bulk terminate, shutdown) live here; exited
// sessions stay until purged or until the exited-ring budget drops the oldest of them.
import type { Logger } from '../daemon/log';
import { NotFoundError } from '../wire/errors';
import type { OutputStream } from './output-stream';
import type { TerminationOutcome } from './termination';
import type { EventBus } from '../events/event-bus';
import type { SessionJournal } from './session-journal';
import { crashPoint } from '../daemon/crash-points';

export type SessionKind = 'pipe' | 'pty';

/** How the leader exited: code (or -signal number when killed by a signal), signal name, when. */
export interface ExitInfo {
  code: number;
  signal: NodeJS.Signals | null;
  exitedAtMs: number;
}

/** What both session kinds offer the table and the generic handlers. */
export interface Session {
  readonly id: string;
  readonly kind: SessionKind;
  readonly pid: number;
  readonly originator: string;
  /** argv joined for display. */
  readonly command: string;
  readonly cwd: string;
  readonly createdAtMs: number;
  /** The leader's start ticks (identity with pid, for the crash journal); null when unreadable at spawn. */
  readonly startTicks: number | null;
  /** Null while the leader runs. */
  readonly exit: ExitInfo | null;
  /** Null while the leader runs. */
  readonly terminationOutcome: TerminationOutcome | null;
  /** Output streams by name: pipe "stdout"/"stderr" (no "stderr" when merged), PTY "output". */
  readonly streams: ReadonlyMap<string, OutputStream>;
  /**
   * Starts SIGTERM → grace → SIGKILL of the tree (after the leader's exit: of what it left in its
   * group or session); returns at once with how many processes it signalled (0: nothing runs).
   */
  terminate(graceMs: number): number;
  /** SIGKILLs the tree at once (immediate shutdown), leftovers included. */
  kill(): void;
  /** One signal to the leader and its group and session (SIGKILL: the tree); how many got it. */
  signal(sig: NodeJS.Signals): number;
  /** What the exited leader left running in its group or session ([] while it runs). */
  leftoverPids(): number[];
  /** True once the leader exited and nothing it left runs any more. */
  readonly settled: boolean;
  /** Resolves once the leader has exited. */
  waitForExit(): Promise<ExitInfo>;
  /** Memory held by the session's rings (the exited-ring budget counts this). */
  heldBytes(): number;
  /** Frees what the session holds once it left the table (ends attachments, timers). */
  dispose(reason: string): void;
}

export interface SessionManagerOptions {
  log: Logger;
  /** DaemonConfig.exitedRingBudgetBytes. */
  exitedRingBudgetBytes: number;
  /** Lifecycle events (spawned, exited, attached, detached, stolen, removed). */
  events?: EventBus;
  /** Where each leader is written down for crash recovery (absent in unit tests). */
  journal?: SessionJournal;
  /** Exited sessions kept at most (the newest by exit time; DaemonConfig.keepExited). */
  keepExitedCount?: number;
  /** How long an exited session is kept, ms (DaemonConfig.keepExitedMs). */
  keepExitedMs?: number;
}

/** Defaults of the exited-session reaping (runpmd --keep-exited, --keep-exited-ms). */
export const DEFAULT_KEEP_EXITED = 100;
export const DEFAULT_KEEP_EXITED_MS = 3_600_000;
/** The age check runs at least this often (and at every exit). */
const REAP_INTERVAL_MAX_MS = 60_000;

/** Counts by kind for purge and bulk terminate replies. */
export interface KindCounts {
  pty: number;
  pipe: number;
}

/** Ceiling on how long shutdown waits for sessions beyond their grace. */
const SHUTDOWN_EXTRA_WAIT_MS = 3000;
/** Sessions lost in a daemon crash whose fate NOT_FOUND answers still explain. */
const MAX_LOST_NOTES = 1000;

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** Why a session id from before a daemon crash is gone (see crash-recovery.ts), oldest first. */
  private readonly lostNotes = new Map<string, string>();

  private reapTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: SessionManagerOptions) {
    const every = Math.min(REAP_INTERVAL_MAX_MS, this.keepExitedMs);
    this.reapTimer = setInterval(() => this.reapExited(), every);
    this.reapTimer.unref();
  }

  private get keepExitedCount(): number {
    return this.opts.keepExitedCount ?? DEFAULT_KEEP_EXITED;
  }

  private get keepExitedMs(): number {
    return this.opts.keepExitedMs ?? DEFAULT_KEEP_EXITED_MS;
  }

  /**
   * Adds a freshly spawned session (recorded in the journal first) and watches for its exit. A
   * session that cannot be recorded is killed and the error thrown: no untracked child is kept.
   */
  add(session: Session): void {
    const journal = this.opts.journal;
    if (journal) {
      try {
        crashPoint('session-spawned');
        journal.record(session);
      } catch (err) {
        // Our child, not reaped yet: its group cannot be anyone else's.
        try { process.kill(-session.pid, 'SIGKILL'); } catch { /* already gone */ }
        throw err;
      }
      void session.waitForExit().then(() => journal.forget(session));
    }
    this.sessions.set(session.id, session);
    this.publishLifecycle(session);
    void session.waitForExit().then(() => {
      this.enforceExitedBudget();
      this.reapExited();
    });
  }

  /**
   * Forgets exited sessions beyond the newest keepExitedCount and those exited longer than
   * keepExitedMs ago. A session whose leftovers still run, or that a client is reading, stays.
   * Runs at every exit and on a timer; returns how many went.
   */
  reapExited(now = Date.now()): number {
    const exited = [...this.sessions.values()].filter((s) => s.exit).sort((a, b) => b.exit!.exitedAtMs - a.exit!.exitedAtMs);
    let reaped = 0;
    exited.forEach((s, newer) => {
      const tooMany = newer >= this.keepExitedCount;
      const tooOld = now - s.exit!.exitedAtMs > this.keepExitedMs;
      if (!tooMany && !tooOld) return;
      if ([...s.streams.values()].some((st) => st.attachedBy !== null) || !s.settled) return;
      this.remove(s, tooOld ? `exited more than ${this.keepExitedMs} ms ago` : `more than ${this.keepExitedCount} sessions have exited`);
      reaped++;
    });
    if (reaped > 0) this.opts.log.info(`reaped ${reaped} exited session(s) (keeping the newest ${this.keepExitedCount}, for ${this.keepExitedMs} ms)`);
    return reaped;
  }

  /** Remembers why a session of the previous daemon is gone; NOT_FOUND for its id says so. */
  noteLost(id: string, why: string): void {
    this.lostNotes.set(id, why);
    if (this.lostNotes.size > MAX_LOST_NOTES) this.lostNotes.delete(this.lostNotes.keys().next().value!);
  }

  /** Publishes spawned/exited and every attachment change of the session's streams. */
  private publishLifecycle(session: Session): void {
    const events = this.opts.events;
    if (!events) return;
    const base = { sessionId: session.id, pid: session.pid, originator: session.originator };
    events.emit('session.spawned', { ...base, status: session.kind, detail: session.command });
    for (const [name, stream] of session.streams) {
      stream.onAttachmentChange = (change, label, detail) => {
        events.emit(`session.${change}`, { ...base, status: name, detail: `${label}: ${detail}` });
      };
    }
    void session.waitForExit().then((exit) => {
      events.emit('session.exited', { ...base, exitCode: exit.code, status: session.terminationOutcome ?? 'natural', detail: exit.signal ?? '' });
    });
  }

  /** The session, or NOT_FOUND naming the id. */
  get(id: string, kind?: SessionKind): Session {
    const s = this.sessions.get(id);
    if (!s || (kind && s.kind !== kind)) {
      const lost = s ? undefined : this.lostNotes.get(id);
      throw new NotFoundError(`no ${kind ? `${kind} ` : ''}session with id ${JSON.stringify(id)}${lost ? `: ${lost}` : ''}`);
    }
    return s;
  }

  /** The session or undefined. */
  find(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** Sessions in creation order, filtered by kind and exact originator ("" = all). */
  list(filter: { kind?: SessionKind; originator?: string } = {}): Session[] {
    return [...this.sessions.values()].filter((s) =>
      (!filter.kind || s.kind === filter.kind) && (!filter.originator || s.originator === filter.originator));
  }

  /** Removes exited sessions (originator filter, "" = all) whose leftovers are gone; counts by kind. */
  purgeExited(originator = ''): KindCounts {
    const counts: KindCounts = { pty: 0, pipe: 0 };
    for (const s of this.list({ originator })) {
      if (!s.exit || !s.settled) continue;
      this.remove(s, 'purged');
      counts[s.kind]++;
    }
    return counts;
  }

  /** Starts terminating live sessions older than olderThanSecs (strictly); counts by kind. */
  bulkTerminate(opts: { olderThanSecs: number; originator: string; graceMs: number }): KindCounts {
    const counts: KindCounts = { pty: 0, pipe: 0 };
    const now = Date.now();
    for (const s of this.list({ originator: opts.originator })) {
      if (s.exit) continue;
      if ((now - s.createdAtMs) / 1000 <= opts.olderThanSecs && opts.olderThanSecs > 0) continue;
      s.terminate(opts.graceMs);
      counts[s.kind]++;
    }
    return counts;
  }

  /** Ring bytes held by exited sessions now. */
  exitedHeldBytes(): number {
    let total = 0;
    for (const s of this.sessions.values()) if (s.exit) total += s.heldBytes();
    return total;
  }

  /** Drops the oldest exited sessions (by exit time) until their rings fit the budget; logs each. */
  enforceExitedBudget(): void {
    const budget = this.opts.exitedRingBudgetBytes;
    let total = this.exitedHeldBytes();
    if (total <= budget) return;
    const exited = [...this.sessions.values()].filter((s) => s.exit)
      .sort((a, b) => a.exit!.exitedAtMs - b.exit!.exitedAtMs);
    for (const s of exited) {
      if (total <= budget) break;
      const held = s.heldBytes();
      this.remove(s, 'dropped to stay within the exited-session ring budget');
      total -= held;
      this.opts.log.info(`dropped exited ${s.kind} session ${s.id} (${held} ring bytes): exited sessions held more than the budget of ${budget} bytes`);
    }
  }

  /** Daemon shutdown: graceful → SIGTERM, SIGKILL after graceMs; else SIGKILL now. Waits for exits. */
  async close(opts: { graceful: boolean; graceMs: number }): Promise<void> {
    if (this.reapTimer) clearInterval(this.reapTimer);
    this.reapTimer = null;
    // What exited leaders left running goes too (best effort within the same grace).
    for (const s of this.sessions.values()) {
      if (!s.exit || s.settled) continue;
      if (opts.graceful) s.terminate(opts.graceMs);
      else s.kill();
    }
    const live = [...this.sessions.values()].filter((s) => !s.exit);
    for (const s of live) {
      if (opts.graceful) s.terminate(opts.graceMs);
      else s.kill();
    }
    const cap = (opts.graceful ? opts.graceMs : 0) + SHUTDOWN_EXTRA_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(live.map((s) => s.waitForExit())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, cap))),
    ]);
    clearTimeout(timer);
    for (const s of [...this.sessions.values()]) this.remove(s, 'daemon shutting down');
    // Leaders that exited are forgotten now; any still running keep their row for the next daemon.
    this.opts.journal?.flush();
  }

  private remove(s: Session, reason: string): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    s.dispose(reason);
    // After dispose: whatever hangs on the session (observers) lets it go last.
    this.opts.events?.emit('session.removed', { sessionId: s.id, pid: s.pid, originator: s.originator, status: s.kind, detail: reason });
  }
}
