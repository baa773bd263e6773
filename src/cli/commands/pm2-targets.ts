// Which services a pm2-style target names: "all", an id (ids first: a service named "0" never
// shadows id 0; a number that is no id is then tried as a name, as pm2 does for an app named
// "455"), a name (every instance), a /regex/ over names, a namespace, or a script path (the
// services running that file). Resolved on the client from the list so one command line can name
// several targets; the daemon is then asked by id.
import * as path from 'node:path';
import type { ServiceInfo } from '../../client/services-api';
import { describeArgv } from './pm2-interpreter';

/** Thrown when a target names no service (the command exits non-zero, like pm2). */
export class TargetNotFoundError extends Error {}

/** The services one target names, in id order; empty when none. */
export function matchTarget(target: string, services: readonly ServiceInfo[], cwd = process.cwd()): ServiceInfo[] {
  if (target === 'all') return [...services];
  if (/^\d+$/.test(target)) {
    const byId = services.filter((s) => s.id === Number(target));
    if (byId.length > 0) return byId;
  }
  const regex = /^\/(.+)\/([gimsuy]*)$/.exec(target);
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(regex[1], regex[2].replace('g', ''));
    } catch (err) {
      throw new Error(`invalid target regex ${target}: ${(err as Error).message}`);
    }
    return services.filter((s) => re.test(s.name));
  }
  const byName = services.filter((s) => s.name === target);
  if (byName.length > 0) return byName;
  const byNamespace = services.filter((s) => (s.config.namespace || 'default') === target);
  if (byNamespace.length > 0) return byNamespace;
  // A script path: relative to here, compared with what each service runs.
  const abs = path.resolve(cwd, target);
  return services.filter((s) => describeArgv(s.config.cmd).execPath === abs);
}

/** Every service the targets name (each once, in id order); throws naming a target that matches nothing. */
export function resolveTargets(targets: readonly string[], services: readonly ServiceInfo[], cwd = process.cwd()): ServiceInfo[] {
  const picked = new Map<number, ServiceInfo>();
  for (const t of targets) {
    const matched = matchTarget(t, services, cwd);
    if (matched.length === 0) {
      throw new TargetNotFoundError(t === 'all' ? 'no services to act on (all: the list is empty)' : `process or namespace ${t} not found`);
    }
    for (const s of matched) picked.set(s.id, s);
  }
  return [...picked.values()].sort((a, b) => a.id - b.id);
}
