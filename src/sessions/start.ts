// Creates the daemon's session table at start, with its crash journal, and registers it for
// shutdown (graceful: SIGTERM, then SIGKILL after the grace; immediate: SIGKILL). Runs once per daemon.
import type { DaemonState } from '../daemon/state';
import { SessionManager } from './session-table';
import { SessionJournal } from './session-journal';
import { recoverLostSessions } from './crash-recovery';
import { SessionChildrenStore } from '../registry/session-children';
import type { MetricSample } from '../metrics/metrics';

/** Gauges for the metrics endpoint, computed at scrape time. */
function sessionMetrics(manager: SessionManager): MetricSample[] {
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
 * Called from startSubsystems(): hangs the table on state.sessions, with every leader written
 * down in the scope database; then (in the background) reports and stops the sessions a
 * predecessor that died without shutting down left running.
 */
export function startSessions(state: DaemonState): SessionManager {
  if (!state.db) throw new Error('sessions need the scope database (their crash journal) to be open first');
  const store = new SessionChildrenStore(state.db);
  const journal = new SessionJournal(store, (err) => state.log.error(`session journal: ${(err as Error).message}`));
  const manager = new SessionManager({
    log: state.log, exitedRingBudgetBytes: state.config.exitedRingBudgetBytes, events: state.events, journal,
    keepExitedCount: state.config.keepExited, keepExitedMs: state.config.keepExitedMs,
  });
  state.metricSources.push(() => sessionMetrics(manager));
  state.sessions = manager;
  state.subsystems.push({ name: 'sessions', close: (opts) => manager.close(opts) });
  void recoverLostSessions({
    store, scopeHash: state.config.paths.scopeHash, crashedPid: state.crashedPredecessorPid, log: state.log, events: state.events,
    noteLost: (id, why) => manager.noteLost(id, why),
  }).catch((err) => state.log.error(`crash recovery of sessions failed: ${(err as Error).stack ?? err}`));
  return manager;
}
