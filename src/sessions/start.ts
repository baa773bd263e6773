// Opens the daemon's session table with its crash journal, once per daemon (daemon/subsystems.ts
// wires it in and closes it on shutdown: graceful: SIGTERM, then SIGKILL after the grace;
// immediate: SIGKILL). Takes only what sessions need, never the whole daemon state.
import type { Database } from '../registry/db';
import type { Logger } from '../daemon/log';
import type { EventBus } from '../events/event-bus';
import { SessionManager } from './session-table';
import { SessionJournal } from './session-journal';
import { recoverLostSessions } from './crash-recovery';
import { SessionChildrenStore } from '../registry/session-children';
import type { MetricSample } from '../metrics/metrics';

/** What the session table needs from the daemon. */
export interface SessionsDeps {
  /** The scope database (the crash journal's table); open for the daemon's life. */
  db: Database;
  log: Logger;
  events: EventBus;
  /** The scope's hash, which every session child carries in RUNPM_SESSION_SCOPE. */
  scopeHash: string;
  /** Pid of this scope's daemon that died without shutting down, else null. */
  crashedPredecessorPid: number | null;
  exitedRingBudgetBytes: number;
  keepExitedCount: number;
  keepExitedMs: number;
}

/** Gauges for the metrics endpoint, computed at scrape time. */
export function sessionMetrics(manager: SessionManager): MetricSample[] {
  const counts = new Map<string, number>();
  let attachments = 0;
  let dropped = 0;
  for (const s of manager.list()) {
    const key = `${s.kind}/${s.exit ? 'exited' : 'running'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    for (const stream of s.streams.values()) {
      if (stream.attachedBy) attachments++;
      dropped += stream.ring.startOffset;
    }
  }
  const samples: MetricSample[] = [];
  for (const kind of ['pipe', 'pty']) {
    for (const st of ['running', 'exited']) {
      samples.push({ name: 'runpm_sessions', labels: { kind, state: st }, value: counts.get(`${kind}/${st}`) ?? 0 });
    }
  }
  samples.push({ name: 'runpm_attachments', value: attachments });
  samples.push({ name: 'runpm_ring_dropped_bytes', value: dropped });
  return samples;
}

/**
 * Creates the table, with every leader written down in the scope database; then (in the
 * background) reports and stops the sessions a predecessor that died without shutting down left running.
 */
export function openSessions(deps: SessionsDeps): SessionManager {
  const { log, events } = deps;
  const store = new SessionChildrenStore(deps.db);
  const journal = new SessionJournal(store, (err) => log.error(`session journal: ${(err as Error).message}`));
  const manager = new SessionManager({
    log, events, journal, exitedRingBudgetBytes: deps.exitedRingBudgetBytes,
    keepExitedCount: deps.keepExitedCount, keepExitedMs: deps.keepExitedMs,
  });
  void recoverLostSessions({
    store, scopeHash: deps.scopeHash, crashedPid: deps.crashedPredecessorPid, log, events,
    noteLost: (id, why) => manager.noteLost(id, why), isCurrent: (id) => manager.find(id) !== undefined,
  }).catch((err) => log.error(`crash recovery of sessions failed: ${(err as Error).stack ?? err}`));
  return manager;
}
