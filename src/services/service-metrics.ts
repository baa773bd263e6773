// The services' gauges for the metrics endpoint (--metrics): services by status and the restarts
// they recorded. Computed at scrape time from the table.
import type { MetricSample } from '../metrics/metrics';
import type { Service } from './service';
import type { ServiceStatus } from './service-store';

const STATUSES: readonly ServiceStatus[] = ['starting', 'online', 'stopping', 'stopped', 'waiting', 'errored'];

/** runpm_services{status} and runpm_service_restarts of these services. */
export function serviceMetricSamples(services: readonly Service[]): MetricSample[] {
  const counts = new Map<string, number>();
  let restarts = 0;
  for (const s of services) {
    counts.set(s.row.status, (counts.get(s.row.status) ?? 0) + 1);
    restarts += s.row.restartCount;
  }
  const samples: MetricSample[] = STATUSES.map((status) => ({ name: 'runpm_services' as const, labels: { status }, value: counts.get(status) ?? 0 }));
  samples.push({ name: 'runpm_service_restarts', value: restarts });
  return samples;
}
