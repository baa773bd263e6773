// Creates the daemon's session observers at start. Registered after the sessions, so shutdown
// closes it first: receivers get "shutting down" and no session stays held while sessions stop.
import type { DaemonState } from '../daemon/state';
import { observerFrameCodec } from '../daemon/handlers/observers';
import { SessionObservers } from './session-observers';

/** Called from startSubsystems(), after startSessions(): hangs the observers on state.observers. */
export function startObservers(state: DaemonState): SessionObservers {
  const observers = new SessionObservers({
    events: state.events, log: state.log, codec: observerFrameCodec,
    stallMs: state.config.observerStallMs, pollMs: state.config.observerPollMs,
  });
  state.observers = observers;
  state.metricSources.push(() => [{ name: 'runpm_session_observers', value: observers.count }]);
  state.subsystems.push({ name: 'observers', close: async () => observers.close() });
  return observers;
}
