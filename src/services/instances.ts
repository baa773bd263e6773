// pm2's instances in fork mode: `instances: N` defines N services under one name, each with its
// own id, run and logs, told apart by NODE_APP_INSTANCE (instance_var) = 0 .. N-1; increment_var
// names a variable (a port) that goes up by one per instance from its value in env.
import type { ServiceConfigData } from './service-config';

export const DEFAULT_INSTANCE_VAR = 'NODE_APP_INSTANCE';

/** How many services a config defines (instances 0 → 1). */
export function instanceCountOf(c: ServiceConfigData): number {
  return Math.max(1, c.instances);
}

/** The env of instance `index`: the config's env, then the instance variables over it. */
export function instanceEnv(c: ServiceConfigData, index: number): Record<string, string> {
  const env: Record<string, string> = { ...c.env, [c.instanceVar || DEFAULT_INSTANCE_VAR]: String(index) };
  if (c.incrementVar !== '') {
    const base = Number(c.env[c.incrementVar] ?? 0);
    env[c.incrementVar] = String((Number.isFinite(base) ? base : 0) + index);
  }
  return env;
}
