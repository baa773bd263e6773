// Creates the daemon's tee registry at start. Registered before the sessions so that shutdown
// closes it after them: the sessions' streams end first, then every tee file is flushed.
import type { DaemonState } from '../daemon/state';
import { testWriteDelayMs } from './file-sink';
import { TeeRegistry } from './tee-registry';
import { TEE_DROPPED_BYTES } from './file-tee';

/** Called from startSubsystems(), before startSessions(): hangs the registry on state.tees. */
export function startTees(state: DaemonState): TeeRegistry {
  // RUNPM_TEST_TEE_WRITE_DELAY_MS (test only, undocumented in --help): every tee write waits that long.
  const delay = testWriteDelayMs();
  if (delay > 0) state.log.warn(`test hook: every tee write is delayed ${delay} ms (RUNPM_TEST_TEE_WRITE_DELAY_MS)`);
  const registry = new TeeRegistry(delay);
  state.tees = registry;
  state.metricSources.push(() => [
    { name: 'runpm_tee_dropped_bytes', labels: { reason: 'queue_full' }, value: TEE_DROPPED_BYTES.queue_full },
    { name: 'runpm_tee_dropped_bytes', labels: { reason: 'sink_failed' }, value: TEE_DROPPED_BYTES.sink_failed },
  ]);
  state.subsystems.push({ name: 'tees', close: () => registry.close() });
  return registry;
}
