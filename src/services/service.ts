// One supervised service: its persisted row plus the live run (child or adopted pid), the restart
// policy (backoff, minimum uptime, max restarts) and stopping its whole tree. Lives from its
// definition until it is deleted or the daemon stops; operations on it run one at a time.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../daemon/log';
import { killSignalOf, killTimeoutOf, type ServiceConfigData } from './service-config';
import { decideAfterExit } from './restart-policy';
import { pidFilePathOf, removePidFile, writePidFile } from './pid-file';
import type { ServiceRow, ServiceStatus } from './service-store';
import { checkLiveness, readProcStat } from '../proc/process-table';
import { signalIdentity, terminateGroupTree } from '../proc/kill-escalation';
import { withUserUmask } from '../scope/umask';
import { crashPoint } from '../daemon/crash-points';
import { DEFAULT_LISTEN_TIMEOUT_MS, forkClusterWorker, hasListened, leaveSharing, retireWorker, whenWorkerReady } from './cluster-worker';

/** What a service needs from its manager. */
export interface ServiceHost {
  readonly log: Logger;
  /**
   * A run's whole environment: the config's policy base, daemon defaults, its env, the instance
   * variables (NODE_APP_INSTANCE, increment_var), the RUNPM_SERVICE_* marks (with the run's token).
   */
  runEnv(row: ServiceRow): Record<string, string>;
  /** A new run's stdout and stderr: the service's log pipes (the caller closes them after the spawn). */
  openRunStdio(id: number): [number, number];
  /** Writes the row; `quiet` leaves the status event for the next change (a run about to be forked). */
  persist(row: ServiceRow, opts?: { quiet?: boolean }): void;
}

/** Exit code recorded when it cannot be known (the run was adopted, so the daemon is not its parent). */
export const UNKNOWN_EXIT_CODE = -1;

/** Statuses in which the service is meant to be running. */
export const RUNNING_STATUSES: ReadonlySet<ServiceStatus> = new Set(['starting', 'online', 'waiting']);

export class Service {
  private child: ChildProcess | null = null;
  /** The run was found alive at daemon start: its exit is noticed by polling /proc. */
  adopted = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private exitWaiters: Array<() => void> = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Set once the service is deleted or the daemon closes: no more spawns. */
  private closed = false;

  constructor(readonly row: ServiceRow, private readonly host: ServiceHost) {}

  get name(): string {
    return this.row.name;
  }

  /** True while a run exists (pid recorded). */
  get running(): boolean {
    return this.row.pid !== 0;
  }

  /** Runs fn after every earlier operation on this service finished (one at a time). */
  serialize<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Starts a new run now (the caller holds the queue). Spawn failures leave the service errored.
   * The run's token is written before the fork and carried in its environment: a daemon killed
   * between the fork and recording the pid leaves the next one a run it can find and adopt
   * (readoption.ts) instead of starting a second copy.
   */
  async spawnRun(): Promise<void> {
    this.clearTimers();
    if (this.closed) return;
    const c = this.row.config;
    Object.assign(this.row, { runToken: randomUUID(), status: 'starting', pid: 0, startTime: 0 });
    this.host.persist(this.row, { quiet: true });
    let fds: [number, number] | null = null;
    let child: ChildProcess;
    try {
      fds = this.host.openRunStdio(this.row.id);
      const fd = fds;
      const env = this.host.runEnv(this.row);
      child = withUserUmask(() => c.execMode === 'cluster' ? forkClusterWorker(c, env, fd) : spawn(c.cmd[0], c.cmd.slice(1), {
        cwd: c.cwd,
        env,
        stdio: ['ignore', fd[0], fd[1]],
        // Own session and process group: the group is what stop signals, and the run does not
        // share the daemon's fate.
        detached: true,
      }));
    } catch (err) {
      this.markSpawnFailed((err as Error).message);
      return;
    } finally {
      if (fds) for (const fd of fds) fs.closeSync(fd);
    }
    if (child.pid === undefined) {
      // The spawn failed (ENOENT, EACCES, ...): 'error' follows on the next tick.
      const message = await new Promise<string>((resolve) => child.once('error', (err) => resolve(err.message)));
      this.markSpawnFailed(message);
      return;
    }
    crashPoint('service-spawned');
    child.on('error', (err) => this.host.log.warn(`service ${this.name}: ${err.message}`));
    // Read at once: until we reap it, even a child that already exited keeps its /proc entry.
    let stat;
    try {
      stat = readProcStat(child.pid);
    } catch (err) {
      // Without its start time the run could not be told from a reused pid later: do not keep it.
      // Our unreaped child's group cannot belong to anyone else yet.
      try { process.kill(c.execMode === 'cluster' ? child.pid : -child.pid, 'SIGKILL'); } catch { /* already gone */ }
      this.markSpawnFailed((err as Error).message);
      return;
    }
    this.child = child;
    this.adopted = false;
    const now = Date.now();
    Object.assign(this.row, {
      pid: child.pid, startTime: stat?.startTicks ?? 0, status: 'starting', lastStartedAt: now, lastError: '', backoffMs: this.row.backoffMs,
    });
    child.unref();
    child.on('exit', (code, signal) => {
      if (this.child === child) this.onRunExit(code, signal);
    });
    this.writePid(child.pid);
    if (c.execMode === 'cluster' && c.waitReady) {
      // pm2's wait_ready: launching until the app sends 'ready', or listen_timeout passed.
      this.host.persist(this.row);
      const timeoutMs = c.listenTimeoutMs || DEFAULT_LISTEN_TIMEOUT_MS;
      const how = await whenWorkerReady(child, 'ready', timeoutMs);
      if (this.child !== child || this.row.status !== 'starting') return;
      if (how === 'timeout') this.host.log.warn(`service ${this.name}: no 'ready' from the app within ${timeoutMs} ms (listen_timeout); taken as online`);
    }
    // Online at once, as pm2: min_uptime only decides whether the run's end counts as unstable.
    this.row.status = 'online';
    this.host.persist(this.row);
  }

  /** Takes over a run found alive at daemon start (pid + start time matched). */
  adopt(): void {
    this.adopted = true;
    this.row.status = 'online';
    this.host.persist(this.row);
  }

  /** Called by the manager's /proc poll: notices the exit of an adopted run (a table it cannot read proves nothing). */
  pollAdopted(): void {
    if (!this.adopted || this.row.pid === 0) return;
    const liveness = checkLiveness({ pid: this.row.pid, startTicks: this.row.startTime });
    if (liveness !== 'alive' && liveness !== 'unknown') this.onRunExit(null, null);
  }

  /** The run ended (child exit event, or an adopted pid that vanished). */
  private onRunExit(code: number | null, signal: NodeJS.Signals | null): void {
    const { pid, startTime } = this.row;
    const now = Date.now();
    const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : UNKNOWN_EXIT_CODE);
    const uptime = now - this.row.lastStartedAt;
    this.child = null;
    this.adopted = false;
    removePidFile(this.row, this.host.log);
    Object.assign(this.row, { pid: 0, startTime: 0, lastExitedAt: now, lastExitCode: exitCode });
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of waiters) w();
    if (this.row.status === 'stopping' || this.closed) {
      this.host.persist(this.row);
      return;
    }
    // Whatever the run left behind in its group or below it goes too: a restart must not double it.
    // After the restart is under way (the walk of /proc takes milliseconds): the new run has its
    // own group and is the daemon's child, never part of the old run's tree.
    setImmediate(() => {
      void terminateGroupTree({ pid, startTicks: startTime }, killTimeoutOf(this.row.config), killSignalOf(this.row.config)).catch(() => undefined);
    });
    this.host.log.info(`service ${this.name} exited with code ${exitCode} after ${uptime} ms`);
    const decision = decideAfterExit(this.row.config, this.row, uptime, exitCode);
    if (decision.action === 'stop') {
      this.row.status = 'stopped';
    } else if (decision.action === 'errored') {
      this.row.status = 'errored';
      this.row.lastError = decision.reason;
      this.host.log.warn(`service ${this.name}: ${decision.reason}; not restarted`);
    } else {
      this.scheduleRestart(decision.delayMs);
    }
    this.host.persist(this.row);
  }

  /**
   * Puts the service in "waiting" and restarts it after delayMs; with 0, at once (queued behind
   * whatever operation is running on the service, without a timer).
   */
  scheduleRestart(delayMs: number): void {
    this.row.status = 'waiting';
    this.row.backoffMs = delayMs;
    const restart = (): void => {
      void this.serialize(() => {
        if (this.row.status !== 'waiting' || this.closed) return;
        this.row.restartCount++;
        return this.spawnRun();
      });
    };
    if (delayMs === 0) {
      restart();
      return;
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      restart();
    }, delayMs);
  }

  /**
   * A restart asked for by the daemon itself (max_memory_restart, watch, cron_restart): stop the
   * run and start a new one, counted in restart_count. A service that is not running is left
   * alone ('running'), started if it ended by itself ('exited': stopped or errored, still meant to
   * run), or started whatever stopped it ('always', pm2's cron_restart).
   */
  restartNow(why: string, notRunning: 'running' | 'exited' | 'always' = 'running'): Promise<void> {
    return this.serialize(async () => {
      if (this.closed || this.row.status === 'stopping') return;
      if (!RUNNING_STATUSES.has(this.row.status)) {
        const exitedByItself = this.row.desired === 'online';
        if (notRunning === 'running' || (notRunning === 'exited' && !exitedByItself)) return;
        Object.assign(this.row, { desired: 'online', unstableRestarts: 0, backoffMs: 0 });
      }
      this.host.log.info(`service ${this.name}: restarting (${why})`);
      await this.stopRun();
      if (this.closed) return;
      this.row.restartCount++;
      await this.spawnRun();
    });
  }

  /**
   * A restart asked for by a client (the caller holds the queue). As pm2: restarting a running app
   * counts a restart; restarting a stopped or errored one is a start.
   */
  async restartRun(): Promise<void> {
    const wasRunning = this.running || this.row.status === 'waiting';
    await this.stopRun();
    this.row.desired = 'online';
    this.row.unstableRestarts = 0;
    if (wasRunning) this.row.restartCount++;
    await this.spawnRun();
  }

  /**
   * pm2's reload of a cluster worker (the caller holds the queue): a new worker is forked first and
   * the old one is stopped only once the new one listens (if the old one listened; else once it is
   * up), or listen_timeout passed, so the app's port never goes unserved. Counted as a restart.
   * Anything else (fork mode, nothing running, an adopted run) is restarted as by restart.
   */
  async reloadRun(): Promise<void> {
    const old = this.child;
    if (this.row.config.execMode !== 'cluster' || !old || this.adopted || this.row.status !== 'online') return this.restartRun();
    const identity = { pid: this.row.pid, startTicks: this.row.startTime };
    const c = this.row.config;
    const when = c.waitReady ? 'ready' : hasListened(old) ? 'listening' : 'online';
    const timeoutMs = c.listenTimeoutMs || DEFAULT_LISTEN_TIMEOUT_MS;
    // From here the old worker is no longer the run: its exit is not a crash to restart.
    this.child = null;
    removePidFile(this.row, this.host.log);
    this.row.restartCount++;
    this.row.unstableRestarts = 0;
    await this.spawnRun();
    if (this.child) {
      const how = await whenWorkerReady(this.child, when, timeoutMs);
      if (how !== 'ready') this.host.log.warn(`service ${this.name}: reload: the new worker ${how === 'exited' ? 'exited' : `was not ${when} within ${timeoutMs} ms`}; stopping the old one anyway`);
    }
    // Out of the port sharing first, so no connection is handed to a worker being stopped.
    await retireWorker(old, killTimeoutOf(this.row.config));
    await terminateGroupTree(identity, killTimeoutOf(this.row.config), killSignalOf(this.row.config));
  }

  /** Sends a signal to the run's main process, as pm2 sendSignal does (not its group); false when nothing runs. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    return signalIdentity({ pid: this.row.pid, startTicks: this.row.startTime }, sig);
  }

  /**
   * Stops the run and everything it started (the caller holds the queue): SIGTERM to the group,
   * graceMs (default kill_timeout), then SIGKILL to the group and escaped descendants.
   */
  async stopRun(graceMs = killTimeoutOf(this.row.config)): Promise<void> {
    this.clearTimers();
    if (!this.running) {
      if (this.row.status !== 'errored' || this.row.desired === 'stopped') this.row.status = 'stopped';
      this.host.persist(this.row);
      return;
    }
    const { pid, startTime } = this.row;
    this.row.status = 'stopping';
    this.host.persist(this.row);
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    if (this.child && this.row.config.execMode === 'cluster') leaveSharing(this.child);
    await terminateGroupTree({ pid, startTicks: startTime }, graceMs, killSignalOf(this.row.config));
    // Our own child reports its exit (and code) by event; an adopted run is simply gone now.
    if (this.child) await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
    if (this.row.pid === pid) this.onRunExit(null, null);
    this.row.status = 'stopped';
    this.host.persist(this.row);
  }

  /** Stops timers; with close, no run is ever spawned again (delete, daemon exit). */
  clearTimers(close = false): void {
    if (close) this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  /** Where this service's pid file is ("" = none). */
  get pidFilePath(): string {
    return pidFilePathOf(this.row);
  }

  private writePid(pid: number): void {
    const problem = writePidFile(this.row, pid);
    if (problem) {
      this.row.lastError = problem;
      this.host.log.warn(`service ${this.name}: ${problem}`);
    }
  }

  private markSpawnFailed(message: string): void {
    this.child = null;
    Object.assign(this.row, { pid: 0, startTime: 0, status: 'errored', lastError: `cannot spawn ${JSON.stringify(this.row.config.cmd[0])}: ${message}` });
    this.host.log.warn(`service ${this.name}: ${this.row.lastError}`);
    this.host.persist(this.row);
  }
}
