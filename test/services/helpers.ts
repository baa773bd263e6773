// Shared pieces of the services tests: fixture configs (tiny sh scripts), waiting for a status,
// and checks on which processes are still alive.
import * as fs from 'node:fs';
import type { DaemonClient } from '../../src/client';
import '../../src/client';
import type { ServiceConfigInput, ServiceInfo } from '../../src/client/services-api';
import { waitFor, isAlive } from '../helpers/daemon';

/** A service running `sh -c script` with small restart numbers so tests stay fast. */
export function shService(name: string, script: string, extra: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return { name, cmd: ['sh', '-c', script], restartDelayMs: 20, minUptimeMs: 100, killTimeoutMs: 1000, ...extra };
}

/** Waits until the named service reports `status` (and returns its state). */
export async function waitStatus(client: DaemonClient, name: string, status: string, timeoutMs = 10_000): Promise<ServiceInfo> {
  let last: ServiceInfo | undefined;
  return waitFor(async () => {
    last = (await client.listServices()).find((s) => s.name === name);
    return last?.status === status ? last : null;
  }, `service ${name} to be ${status} (last: ${last?.status})`, timeoutMs);
}

/** Pids listed one per line in a file the fixture writes (missing file → none). */
export function pidsIn(file: string): number[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The pids among these that still run. */
export function aliveOf(pids: number[]): number[] {
  return pids.filter((p) => isAlive(p));
}
