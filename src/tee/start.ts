// Opens the daemon's tee registry, once per daemon (daemon/subsystems.ts wires it in, before the
// sessions, so that shutdown closes it after them: the streams end first, then every tee file is
// flushed), and reports its drop counters to the metrics endpoint.
import type { Logger } from '../daemon/log';
import type { MetricSample } from '../metrics/metrics';
import { testWriteDelayMs } from './file-sink';
import { TeeRegistry } from './tee-registry';
import { TEE_DROPPED_BYTES } from './file-tee';

/** The registry, with the test hook's write delay when it is set. */
export function openTees(log: Logger): TeeRegistry {
  // RUNPM_TEST_TEE_WRITE_DELAY_MS (test only, undocumented in --help): every tee write waits that long.
  const delay = testWriteDelayMs();
  if (delay > 0) log.warn(`test hook: every tee write is delayed ${delay} ms (RUNPM_TEST_TEE_WRITE_DELAY_MS)`);
  return new TeeRegistry(delay);
}

/** Gauges for the metrics endpoint, read at scrape time: bytes tees could not write, by reason. */
export function teeMetrics(): MetricSample[] {
  return [
    { name: 'runpm_tee_dropped_bytes', labels: { reason: 'queue_full' }, value: TEE_DROPPED_BYTES.queue_full },
    { name: 'runpm_tee_dropped_bytes', labels: { reason: 'sink_failed' }, value: TEE_DROPPED_BYTES.sink_failed },
  ];
}
