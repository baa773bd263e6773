// pm2's cluster mode: runpmd is the node cluster primary of every cluster-mode service, as pm2's
// daemon is. Each instance is a cluster worker running the app's script; a server it listens on is
// opened by the primary and shared by every worker listening on the same port (node's round-robin),
// which is what lets N instances of one http app listen on one port.
import type { ChildProcess } from 'node:child_process';
import type { Cluster } from 'node:cluster';
import type { ServiceConfigData } from './service-config';

let primary: Cluster | null = null;

/** node:cluster, loaded on first use (most daemons never run a cluster-mode service). */
function clusterPrimary(): Cluster {
  if (!primary) {
    // A daemon started from inside a cluster worker would load node:cluster as a worker itself.
    delete process.env.NODE_UNIQUE_ID;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    primary = require('node:cluster') as Cluster;
  }
  return primary;
}

/** The script, its arguments and node's options of a cluster-mode config (cmd = node, node_args..., script, args...). */
export function clusterArgv(c: Pick<ServiceConfigData, 'cmd' | 'nodeArgsCount'>): { execArgv: string[]; exec: string; args: string[] } {
  const n = c.nodeArgsCount;
  return { execArgv: c.cmd.slice(1, 1 + n), exec: c.cmd[1 + n], args: c.cmd.slice(2 + n) };
}

/**
 * Forks one cluster worker of `c` with exactly `env` (cluster.fork spreads runpmd's own
 * environment under the one given, so it is swapped out for the call: the run gets its caller's
 * environment, as in fork mode) and stdout/stderr on `stdio` (the log pipes). The worker runs on
 * runpmd's own node binary, as pm2's cluster workers run on pm2's; it shares runpmd's process group
 * (node cannot make it a group leader), so it is stopped by pid and tree, not by group.
 */
export function forkClusterWorker(c: ServiceConfigData, env: Record<string, string>, stdio: [number, number]): ChildProcess {
  const cluster = clusterPrimary();
  const { execArgv, exec, args } = clusterArgv(c);
  cluster.setupPrimary({ exec, args, execArgv, cwd: c.cwd, stdio: ['ignore', stdio[0], stdio[1], 'ipc'] });
  const own = process.env;
  process.env = {};
  try {
    return cluster.fork(env).process;
  } finally {
    process.env = own;
  }
}
