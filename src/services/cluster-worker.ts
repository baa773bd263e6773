// pm2's cluster mode: runpmd is the node cluster primary of every cluster-mode service, as pm2's
// daemon is. Each instance is a cluster worker running the app's script; a server it listens on is
// opened by the primary and shared by every worker listening on the same port (node's round-robin),
// which is what lets N instances of one http app listen on one port.
import type { ChildProcess } from 'node:child_process';
import type { Cluster, Worker } from 'node:cluster';
import type { ServiceConfigData } from './service-config';

let primary: Cluster | null = null;

/** pm2's listen_timeout default: how long a reload waits for the new worker to listen. */
export const DEFAULT_LISTEN_TIMEOUT_MS = 3000;

/** The cluster Worker of each worker process, and whether it has listened on anything. */
const workers = new WeakMap<ChildProcess, { worker: Worker; listened: boolean; ready: boolean }>();

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
    const worker = cluster.fork(env);
    // The Worker re-emits its process's errors (EPIPE answering a listen of a worker that just
    // died): unheard, that would be an uncaught exception. The process's own listener logs them.
    worker.on('error', () => undefined);
    const entry = { worker, listened: false, ready: false };
    worker.once('listening', () => (entry.listened = true));
    // pm2's wait_ready signal: process.send('ready').
    worker.on('message', (m: unknown) => {
      if (m === 'ready' && !entry.ready) {
        entry.ready = true;
        worker.emit('runpm-ready');
      }
    });
    workers.set(worker.process, entry);
    return worker.process;
  } finally {
    process.env = own;
  }
}

/** True when this worker process has listened on a port (or socket) since it started. */
export function hasListened(child: ChildProcess): boolean {
  return workers.get(child)?.listened === true;
}

/** What makes a worker ready: 'ready' sent (wait_ready), it listened, or it is up (cluster 'online'). */
export type ReadyWhen = 'ready' | 'listening' | 'online';

/**
 * Resolves once the worker is ready by `when` (pm2's reload waits for listening, wait_ready for
 * 'ready'), or it exited, or timeoutMs passed. Says which.
 */
export function whenWorkerReady(child: ChildProcess, when: ReadyWhen, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const entry = workers.get(child);
  if (!entry) return Promise.resolve('exited');
  if ((when === 'listening' && entry.listened) || (when === 'ready' && entry.ready)) return Promise.resolve('ready');
  const event = when === 'ready' ? 'runpm-ready' : when;
  return new Promise((resolve) => {
    const done = (why: 'ready' | 'exited' | 'timeout') => {
      clearTimeout(timer);
      entry.worker.off(event, onReady);
      child.off('exit', onExit);
      resolve(why);
    };
    const onReady = () => done('ready');
    const onExit = () => done('exited');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    entry.worker.once(event, onReady);
    child.once('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) done('exited');
  });
}

/**
 * Takes the worker out of the port sharing at once (the primary hands it no more connections) and
 * lets it finish: node's worker.disconnect closes its servers and it exits once their connections
 * end. Resolves when it exited or graceMs passed (then the caller stops it by signal).
 */
export function retireWorker(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (!leaveSharing(child)) {
      clearTimeout(timer);
      resolve(); // its channel is gone already: the signal stops it
    }
  });
}

/**
 * Takes a worker out of the port sharing now (the primary hands it no more connections): a
 * connection handed to a worker that is being stopped would be lost with it (seen: a client's
 * request that never got an answer during a restart). False when there is no channel left.
 */
export function leaveSharing(child: ChildProcess): boolean {
  const entry = workers.get(child);
  if (!entry || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    entry.worker.disconnect();
    return true;
  } catch {
    return false;
  }
}
