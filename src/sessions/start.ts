// Creates the daemon's session table at start and registers it for shutdown (graceful: SIGTERM,
// then SIGKILL after the grace; immediate: SIGKILL). Runs once per daemon.
import type { DaemonState } from '../daemon/state';
import { SessionManager } from './session-table';
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

/** Called from startSubsystems(): hangs the table on state.sessions. */
export function startSessions(state: DaemonState): SessionManager {
  const manager = new SessionManager({ log: state.log, exitedRingBudgetBytes: state.config.exitedRingBudgetBytes, events: state.events });
  state.metricSources.push(() => sessionMetrics(manager));
  state.sessions = manager;
  state.subsystems.push({ name: 'sessions', close: (opts) => manager.close(opts) });
  return manager;
}
