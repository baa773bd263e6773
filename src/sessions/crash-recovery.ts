// At daemon start, after a predecessor died without shutting down: finds the session processes it
// left running (rows of session_children, and every process tagged RUNPM_SESSION_SCOPE=<this
// scope>, which covers a child forked just before the crash and any descendant) and stops them.
// Such a session cannot be attached again: its pipes or terminal master died with the old daemon
// (a pipe child gets EPIPE on its next write, a PTY child a hangup). Each one is reported in
// daemon.log, as a session.lost event, and in the NOT_FOUND answer for its id. Rows whose
// processes cannot be checked now (EMFILE) stay for a later try; nothing is concluded from them.
// A later try must not take this daemon's own sessions (same tag, spawned since) for lost ones.
import type { Logger } from '../daemon/log';
import type { EventBus } from '../events/event-bus';
import type { SessionChildrenStore, SessionChildRow } from '../registry/session-children';
import {
  findTaggedProcesses, livenessIn, readLiveProcessTable, ProcUnreadableError, type ProcStat,
} from '../proc/process-table';
import { GroupEscalation } from '../proc/kill-escalation';

/** Environment entry naming the scope of a session child (set with RUNPM_SESSION_ID by spawn-env). */
export const SESSION_SCOPE_ENV = 'RUNPM_SESSION_SCOPE';
/** How long lost sessions get between the first signal and SIGKILL. */
export const LOST_SESSION_GRACE_MS = 2000;
/** Retry delay while the process table cannot be read. */
const UNREADABLE_RETRY_MS = 1000;

export interface CrashRecoveryOptions {
  store: SessionChildrenStore;
  scopeHash: string;
  /** Pid of the daemon that died (stale lock), or null when only leftover rows say so. */
  crashedPid: number | null;
  log: Logger;
  events: EventBus;
  /** Lets NOT_FOUND for a lost id say what happened to it. */
  noteLost(id: string, why: string): void;
  /** True for a session of this daemon (its children carry the same scope tag). */
  isCurrent(id: string): boolean;
  graceMs?: number;
}

/** One session of the dead daemon and what became of it. */
export interface LostSessionReport {
  sessionId: string;
  kind: 'pipe' | 'pty' | 'unknown';
  command: string;
  /** Processes of it still running when this daemon looked (stopped since). */
  running: number;
  /** Of those, how many needed SIGKILL. */
  hardKilled: number;
}

/** A lost session: its rows (none when the crash came before the write) and its live processes. */
interface LostSession {
  id: string;
  rows: SessionChildRow[];
  live: ProcStat[];
}

/** Groups rows and tagged live processes by session id. */
function lostSessions(rows: SessionChildRow[], tagged: Map<string, ProcStat[]>, table: Map<number, ProcStat>, isCurrent: (id: string) => boolean): LostSession[] {
  const byId = new Map<string, LostSession>();
  const entry = (id: string) => {
    let s = byId.get(id);
    if (!s) byId.set(id, (s = { id, rows: [], live: [] }));
    return s;
  };
  for (const row of rows) {
    const s = entry(row.sessionId);
    s.rows.push(row);
    if (livenessIn(table, row) === 'alive') s.live.push(table.get(row.pid)!);
  }
  for (const [id, procs] of tagged) {
    if (isCurrent(id)) continue;
    const s = entry(id);
    for (const p of procs) if (!s.live.some((l) => l.pid === p.pid)) s.live.push(p);
  }
  return [...byId.values()];
}

/** Stops every live process of one lost session (each with its group and descendants); resolves with the SIGKILL count. */
async function stopLost(session: LostSession, graceMs: number): Promise<number> {
  // A terminal that went away hangs up; pipes get the usual SIGTERM.
  const first: NodeJS.Signals = session.rows.some((r) => r.kind === 'pty') ? 'SIGHUP' : 'SIGTERM';
  const counts = await Promise.all(session.live.map((p) => new GroupEscalation(p.pid, p.startTicks).terminate(graceMs, first)));
  return counts.reduce((a, b) => a + b, 0);
}

function describe(session: LostSession): { kind: LostSessionReport['kind']; command: string } {
  const row = session.rows[0];
  return row ? { kind: row.kind, command: row.command } : { kind: 'unknown', command: session.live[0]?.comm ?? '' };
}

/**
 * Runs once at start (in the background): reports and stops what the dead daemon left. Resolves
 * with the reports once every lost process is gone (or was SIGKILLed past its grace).
 */
export async function recoverLostSessions(opts: CrashRecoveryOptions): Promise<LostSessionReport[]> {
  const rows = opts.store.all();
  if (rows.length === 0 && opts.crashedPid === null) return [];
  let table: Map<number, ProcStat>;
  let tagged: Map<string, ProcStat[]>;
  for (let attempt = 0; ; attempt++) {
    try {
      table = readLiveProcessTable();
      tagged = findTaggedProcesses(`${SESSION_SCOPE_ENV}=${opts.scopeHash}`, 'RUNPM_SESSION_ID');
      break;
    } catch (err) {
      if (!(err instanceof ProcUnreadableError)) throw err;
      if (attempt === 0) opts.log.warn(`crash recovery: ${err.message}; the last daemon's sessions are kept as they are and looked at again every ${UNREADABLE_RETRY_MS} ms`);
      await new Promise((r) => setTimeout(r, UNREADABLE_RETRY_MS));
    }
  }
  const who = opts.crashedPid !== null ? `runpmd pid ${opts.crashedPid}` : 'the last runpmd';
  const reports = await Promise.all(lostSessions(rows, tagged, table, opts.isCurrent).map(async (session) => {
    const { kind, command } = describe(session);
    const running = session.live.length;
    const why = running > 0
      ? `it was lost when ${who} died without shutting down (its ${kind === 'pty' ? 'terminal' : 'pipes'} went with it), and runpmd pid ${process.pid} stopped its ${running} process(es)`
      : `it was lost when ${who} died without shutting down; its processes had exited by the time runpmd pid ${process.pid} started`;
    opts.noteLost(session.id, why);
    opts.log.warn(`crash recovery: ${kind} session ${session.id} (${JSON.stringify(command)}): ${why}`);
    opts.events.emit('session.lost', { sessionId: session.id, pid: session.rows[0]?.pid ?? session.live[0]?.pid ?? 0, status: kind, detail: why });
    const hardKilled = running > 0 ? await stopLost(session, opts.graceMs ?? LOST_SESSION_GRACE_MS) : 0;
    return { sessionId: session.id, kind, command, running, hardKilled };
  }));
  opts.store.delete(rows);
  if (reports.length > 0) {
    const stopped = reports.reduce((n, r) => n + r.running, 0);
    const hard = reports.reduce((n, r) => n + r.hardKilled, 0);
    opts.log.info(`crash recovery: ${reports.length} lost session(s) of ${who} handled; ${stopped} process(es) stopped, ${hard} of them with SIGKILL`);
  }
  return reports;
}
