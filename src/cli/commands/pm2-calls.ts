// The daemon calls the pm2-style commands make beyond the plain client methods: a start that
// redefines and restarts an existing app (pm2's `start`/`restart FILE` of an app that exists),
// answering with every instance, and reset / signal by target.
import type { DaemonClient } from '../../client/daemon-client';
import { toInfo, type ServiceConfigInput, type ServiceInfo } from '../../client/services-api';
import { RequestType } from '../../wire/proto';

/** A start may wait for dependencies to come online. */
const START_TIMEOUT_MS = 60_000;

/** ServiceStart; with restartExisting an app of that name is redefined and restarted instead of refused. Every instance comes back. */
export async function startApp(client: DaemonClient, config: ServiceConfigInput, restartExisting: boolean): Promise<ServiceInfo[]> {
  const full = { ...config, autorestart: config.autorestart ?? true };
  const r = await client.request(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', { config: full, restartExisting }, { timeoutMs: START_TIMEOUT_MS });
  const all = r.instances && r.instances.length > 0 ? r.instances : [r.service];
  return all.map(toInfo);
}

/** ServiceReset: restart counters of target back to 0; resolves with how many. */
export async function resetServices(client: DaemonClient, target: string): Promise<number> {
  const r = await client.request(RequestType.REQUEST_TYPE_SERVICE_RESET, 'serviceReset', { target }, { timeoutMs: START_TIMEOUT_MS });
  return r.resetCount;
}
