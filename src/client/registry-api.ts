// Client methods of the registry family (request types 10–12, 20–22, 30–31), installed on
// DaemonClient by declaration merging when src/client/index.ts is loaded.
import { DaemonClient, type CallOptions } from './daemon-client';
import { RequestType } from '../wire/proto';
import type { RequestInput, ResponseOutput } from '../wire/payload';

/** A tracked process as ListActive/ListByOriginator return it. */
export type TrackedProcess = ResponseOutput<'listActive'>['processes'][number];
/** One entry of a KillZombies answer. */
export type ZombieReport = ResponseOutput<'killZombies'>['zombies'][number];

declare module './daemon-client' {
  interface DaemonClient {
    /** REGISTER: track an existing process (created_at 0 = the daemon reads the start time). */
    register(req: RequestInput<'register'>, opts?: CallOptions): Promise<void>;
    /** UNREGISTER: stop tracking pid; NOT_FOUND when it was not tracked. */
    unregister(pid: number, opts?: CallOptions): Promise<void>;
    /** SPAWN_DAEMON: run `command` via /bin/sh in its own session; it outlives the daemon. */
    spawnDaemon(req: RequestInput<'spawnDaemon'>, opts?: CallOptions): Promise<ResponseOutput<'spawnDaemon'>>;
    /** LIST_ACTIVE: every tracked process, state checked now; usage adds cpu/memory (src/proc/usage.ts). */
    listActive(options?: { includeUsage?: boolean }, opts?: CallOptions): Promise<TrackedProcess[]>;
    /** LIST_BY_ORIGINATOR: tracked processes whose originator is `tool` or starts with `tool:`. */
    listByOriginator(tool: string, options?: { includeUsage?: boolean }, opts?: CallOptions): Promise<TrackedProcess[]>;
    /** GET_PROCESS_TREE: pid and its descendants as a text tree. */
    getProcessTree(pid: number, opts?: CallOptions): Promise<string>;
    /** KILL_ZOMBIES: report (dryRun) or clean up dead, recycled and orphaned tracked processes. */
    killZombies(dryRun: boolean, opts?: CallOptions): Promise<ZombieReport[]>;
    /** KILL_TREE: SIGKILL pid and all its descendants; resolves with how many died. */
    killTree(pid: number, timeoutSeconds?: number, opts?: CallOptions): Promise<number>;
  }
}

DaemonClient.prototype.register = async function (this: DaemonClient, req, opts) {
  await this.request(RequestType.REQUEST_TYPE_REGISTER, 'register', req, opts);
};

DaemonClient.prototype.unregister = async function (this: DaemonClient, pid, opts) {
  await this.request(RequestType.REQUEST_TYPE_UNREGISTER, 'unregister', { pid }, opts);
};

DaemonClient.prototype.spawnDaemon = function (this: DaemonClient, req, opts) {
  return this.request(RequestType.REQUEST_TYPE_SPAWN_DAEMON, 'spawnDaemon', req, opts);
};

DaemonClient.prototype.listActive = async function (this: DaemonClient, options = {}, opts) {
  const r = await this.request(RequestType.REQUEST_TYPE_LIST_ACTIVE, 'listActive', { includeUsage: options.includeUsage ?? false }, opts);
  return r.processes ?? [];
};

DaemonClient.prototype.listByOriginator = async function (this: DaemonClient, tool, options = {}, opts) {
  const r = await this.request(RequestType.REQUEST_TYPE_LIST_BY_ORIGINATOR, 'listByOriginator',
    { tool, includeUsage: options.includeUsage ?? false }, opts);
  return r.processes ?? [];
};

DaemonClient.prototype.getProcessTree = async function (this: DaemonClient, pid, opts) {
  return (await this.request(RequestType.REQUEST_TYPE_GET_PROCESS_TREE, 'getProcessTree', { pid }, opts)).treeDisplay;
};

DaemonClient.prototype.killZombies = async function (this: DaemonClient, dryRun, opts) {
  return (await this.request(RequestType.REQUEST_TYPE_KILL_ZOMBIES, 'killZombies', { dryRun }, opts)).zombies ?? [];
};

DaemonClient.prototype.killTree = async function (this: DaemonClient, pid, timeoutSeconds = 0, opts) {
  // The daemon may retry for up to 30 s: wait longer than that by default.
  const call = { timeoutMs: Math.max(35_000, (timeoutSeconds + 5) * 1000), ...opts };
  return (await this.request(RequestType.REQUEST_TYPE_KILL_TREE, 'killTree', { pid, timeoutSeconds }, call)).processesKilled;
};
