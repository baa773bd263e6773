// ServiceManager: the services subsystem for the daemon's whole life. Wires the table, re-adoption
// at start, the dependency scheduler, save/resurrect and log rotation together, and answers the
// service requests (start, stop, restart, delete, list, describe) on top of them.
import * as path from 'node:path';
import type { Database } from '../registry/db';
import type { EventBus } from '../events/event-bus';
import type { Logger } from '../daemon/log';
import type { MetricSample } from '../metrics/metrics';
import { InvalidArgumentError, NotFoundError } from '../wire/errors';
import { checkServiceConfig, killTimeoutOf, type ServiceConfigData, type ServiceDefaults } from './service-config';
import { newServiceRow, ServiceStore, type ServiceRow } from './service-store';
import type { Service, ServiceHost } from './service';
import { dependentsOf, startLevels } from './dependency-order';
import type { LogPaths } from './log-files';
import { ServiceTable } from './service-table';
import { DependencyScheduler } from './dependency-scheduler';
import { readoptServices } from './readoption';
import { resurrectServices, saveServices, type SnapshotContext } from './save-resurrect';
import { ServiceLogs } from './service-logs';
import { serviceMetricSamples } from './service-metrics';
import { SNAPSHOT_FILE, removeInterruptedSaves } from './snapshot';
import { buildSpawnEnv, environmentPolicyOf } from '../sessions/spawn-env';
import { signalNameOf } from './pm2-options';
import { MemoryLimits } from './memory-limit';
import { RestartTriggers } from './restart-triggers';
import { instanceCountOf, instanceEnv } from './instances';

/** How often adopted runs (not our children) are checked in /proc. */
const ADOPTED_POLL_MS = 250;

/** The few things of the daemon the services subsystem needs (wired in daemon/subsystems.ts). */
export interface ServiceManagerDeps {
  readonly db: Database;
  readonly log: Logger;
  readonly events: EventBus;
  /** Default cwd of a service (the daemon's). */
  readonly cwd: string;
  readonly logsDir: string;
  /** Where the snapshot is written. */
  readonly stateDir: string;
  /** Tags every run's environment (RUNPM_SERVICE_SCOPE) so a run the last daemon did not record is found. */
  readonly scopeTag: string;
  /** The previous daemon died without shutting down: its runs are looked for by their tags too. */
  readonly crashedPredecessor: boolean;
  /** Daemon --env defaults, beneath each service's own env. */
  readonly defaultEnv: ReadonlyArray<{ key: string; value: string }>;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  /** Runs a write; a disk-full failure releases the emergency reserve and is retried once. */
  retryAfterEnospc(what: string, write: () => void): void;
}

export class ServiceManager {
  private readonly store: ServiceStore;
  private readonly table: ServiceTable;
  private readonly scheduler: DependencyScheduler;
  private readonly logs: ServiceLogs;
  private readonly snapshot: SnapshotContext;
  /** Last status published per service id: service.status events fire on changes only. */
  private readonly publishedStatus = new Map<number, string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly memoryLimits: MemoryLimits;
  private readonly triggers: RestartTriggers;
  private closing = false;

  constructor(private readonly deps: ServiceManagerDeps) {
    this.store = new ServiceStore(deps.db);
    this.logs = new ServiceLogs({
      logsDir: deps.logsDir, stateDir: deps.stateDir, daemonLimits: { maxBytes: deps.logMaxBytes, keep: deps.logMaxFiles }, log: deps.log,
      retryAfterEnospc: (what, write) => deps.retryAfterEnospc(what, write),
    });
    this.triggers = new RestartTriggers(deps.log, (svc) => {
      const logs = this.logs.pathsOf(svc.row);
      return [logs.out, logs.err, logs.combined, svc.pidFilePath].filter((f) => f !== '');
    });
    this.table = new ServiceTable(this.serviceHost(), {
      added: (svc) => {
        this.logs.watch(svc.row.id, svc.row.config);
        this.triggers.update(svc);
      },
      removed: (svc) => {
        this.logs.unwatch(svc.row.id);
        this.triggers.remove(svc.row.id);
      },
    });
    this.memoryLimits = new MemoryLimits(() => this.table.list(), deps.log);
    this.scheduler = new DependencyScheduler(this.table, deps.events, () => this.closing);
    this.snapshot = {
      table: this.table, scheduler: this.scheduler, snapshotPath: this.snapshotPath, defaults: this.defaults,
      saveRow: (row) => this.saveRow(row), define: (config, id) => this.define(config, id), retryAfterEnospc: (what, write) => deps.retryAfterEnospc(what, write),
    };
  }

  /** What each Service uses of the daemon: its base environment, log paths, and saving its row. */
  private serviceHost(): ServiceHost {
    return {
      log: this.deps.log,
      runEnv: ({ name, id, config, runToken, instanceIndex }) => buildSpawnEnv({
        policy: environmentPolicyOf(config.environmentPolicy ?? 0, false),
        defaults: this.deps.defaultEnv,
        request: Object.entries(instanceEnv(config, instanceIndex)).map(([key, value]) => ({ key, value })),
        // Tags every run with its scope, id and run token: a daemon that died between spawning a
        // run and recording its pid can still find that run (see readoption.ts).
        marks: {
          RUNPM_SERVICE_NAME: name, RUNPM_SERVICE_ID: String(id), RUNPM_SERVICE_SCOPE: this.deps.scopeTag, RUNPM_SERVICE_RUN: runToken,
        },
      }),
      openRunStdio: (id) => this.logs.openRunStdio(id),
      persist: (row, opts) => {
        // Runs from child exit/timer callbacks too: a row that cannot be written is logged, and the
        // in-memory row (still authoritative) goes out whole with the next change.
        try {
          this.saveRow(row);
        } catch (err) {
          this.deps.log.error(`service ${row.name}: could not save its state: ${(err as Error).message}`);
        }
        if (!opts?.quiet) this.publishStatus(row);
      },
    };
  }

  private saveRow(row: ServiceRow): void {
    this.deps.retryAfterEnospc(`saving service ${row.name}`, () => this.store.save(row));
  }

  /** Emits service.status on the bus when a service's status changed (the scheduler waits on these). */
  private publishStatus(row: ServiceRow): void {
    if (this.publishedStatus.get(row.id) === row.status) return;
    this.publishedStatus.set(row.id, row.status);
    this.deps.events.emit('service.status', { service: row.name, status: row.status, pid: row.pid, detail: `restarts ${row.restartCount}` });
  }

  /** Gauges for the metrics endpoint. */
  metricSamples(): MetricSample[] {
    return serviceMetricSamples(this.list());
  }

  /** Defaults a config's zeros stand for. */
  get defaults(): ServiceDefaults {
    return { cwd: this.deps.cwd, logMaxBytes: this.deps.logMaxBytes, logMaxFiles: this.deps.logMaxFiles };
  }

  /** Log file paths of a service. */
  logPaths(svc: Service): LogPaths {
    return this.logs.pathsOf(svc.row);
  }

  /** Where ServiceSave writes. */
  get snapshotPath(): string {
    return path.join(this.deps.stateDir, SNAPSHOT_FILE);
  }

  /**
   * Runs once at daemon start: loads every service (re-adopting runs still alive), starts polling
   * adopted pids and rotating logs, and restarts in the background what died while no daemon watched.
   */
  load(): void {
    for (const tmp of removeInterruptedSaves(this.snapshotPath)) this.deps.log.info(`removed ${tmp}, left by a ServiceSave that a crash interrupted (the previous snapshot is intact)`);
    const { toRestart } = readoptServices({
      log: this.deps.log, table: this.table, scopeTag: this.deps.scopeTag, crashed: this.deps.crashedPredecessor, saveRow: (row) => this.saveRow(row),
    }, this.store.loadAll());
    this.pollTimer = setInterval(() => {
      for (const svc of this.table.list()) svc.pollAdopted();
    }, ADOPTED_POLL_MS);
    this.pollTimer.unref();
    this.memoryLimits.start();
    // Leftovers of earlier runs go first: a restarted service never runs beside them.
    void toRestart.then((list) => (list.length > 0 ? this.scheduler.startInOrder(list.map((s) => s.name), true, true, new Set(list)) : undefined))
      .catch((err) => this.deps.log.error(`restarting services after a daemon crash: ${(err as Error).message}`));
  }

  /**
   * ServiceStart: defines (or redefines a stopped) service, as many services as its instances,
   * and starts them after their dependencies. With restartExisting (pm2's `start` of an app that
   * exists) running ones are redefined and restarted too; instances beyond the new count are
   * deleted and missing ones added. Returns every instance, by id.
   */
  async start(input: unknown, restartExisting = false, addInstances = false, renameFrom = ''): Promise<Service[]> {
    const config = checkServiceConfig(input, this.defaults);
    if (addInstances && restartExisting) throw new InvalidArgumentError('restart_existing and add_instances exclude each other');
    if (renameFrom !== '' && renameFrom !== config.name) return this.rename(renameFrom, config);
    const existing = this.table.named(config.name);
    if (addInstances && existing.length > 0) {
      // pm2 start -f: more of the same name beside what runs, with the next free instance numbers.
      this.scheduler.checkDependencies([config]);
      const used = new Set(existing.map((s) => s.row.instanceIndex));
      const added: Service[] = [];
      for (let index = 0; added.length < instanceCountOf(config); index++) {
        if (used.has(index)) continue;
        const svc = this.table.add(newServiceRow(this.table.nextId(), config, index));
        this.saveRow(svc.row);
        added.push(svc);
      }
      await this.scheduler.startInOrder([config.name], true, false, new Set(added));
      return added;
    }
    const busy = existing.find((s) => s.row.status !== 'stopped' && s.row.status !== 'errored');
    if (busy && !restartExisting) {
      throw new InvalidArgumentError(`service '${config.name}' already exists (status ${busy.row.status}; stop or delete it first)`);
    }
    this.scheduler.checkDependencies([config]);
    const kept = await this.define(config);
    const running = kept.filter((s) => s.running || s.row.status === 'waiting');
    if (running.length > 0) await this.scheduler.restartInOrder(running);
    await this.scheduler.startInOrder([config.name], true);
    return this.table.named(config.name);
  }

  /**
   * pm2's rename on restart: the services named `from` are stopped and forgotten, and the config's
   * instances take their ids (lowest first) and restart counts, counted one restart more, as pm2
   * keeps pm_id and counts the restart.
   */
  private async rename(from: string, config: ServiceConfigData): Promise<Service[]> {
    const old = this.table.named(from);
    if (old.length === 0) throw new NotFoundError(`no service named '${from}' to rename to '${config.name}'`);
    if (this.table.named(config.name).length > 0) throw new InvalidArgumentError(`cannot rename '${from}' to '${config.name}': a service of that name exists`);
    const dependent = [...this.table.graph()].find(([name, deps]) => name !== from && deps.includes(from));
    if (dependent) throw new InvalidArgumentError(`cannot rename service '${from}': service '${dependent[0]}' depends on it`);
    this.scheduler.checkDependencies([config]);
    const carried = old.map((s) => ({ id: s.row.id, restarts: s.row.restartCount + (s.running ? 1 : 0) }));
    await this.forget(old);
    const count = instanceCountOf(config);
    for (let index = 0; index < count; index++) {
      const svc = this.table.add(newServiceRow(carried[index]?.id ?? this.table.nextId(), config, index));
      svc.row.restartCount = carried[index]?.restarts ?? 0;
      this.saveRow(svc.row);
    }
    await this.scheduler.startInOrder([config.name], true);
    return this.table.named(config.name);
  }

  /**
   * Makes the table hold exactly the config's instances under its name (no start): the existing
   * ones (lowest ids first) take the config, ones beyond the count are deleted, missing ones are
   * added (preferredId for the first new one when free: a snapshot's id). Returns the ones that
   * existed and were kept.
   */
  async define(config: ServiceConfigData, preferredId = -1): Promise<Service[]> {
    const existing = this.table.named(config.name);
    const count = instanceCountOf(config);
    const kept = existing.slice(0, count);
    const extra = existing.slice(count);
    if (extra.length > 0) await this.forget(extra);
    for (const svc of kept) {
      svc.row.config = config;
      this.logs.watch(svc.row.id, config);
      this.triggers.update(svc);
      this.saveRow(svc.row);
    }
    const used = new Set(kept.map((s) => s.row.instanceIndex));
    let added = 0;
    for (let index = 0; kept.length + added < count; index++) {
      if (used.has(index)) continue;
      const id = preferredId >= 0 && !this.table.hasId(preferredId) ? preferredId : this.table.nextId();
      preferredId = -1;
      const svc = this.table.add(newServiceRow(id, config, index));
      this.saveRow(svc.row);
      added++;
    }
    return kept;
  }

  /** ServiceStop: stops targets and, first, whatever runs that depends on them. Returns how many stopped. */
  async stop(target: string): Promise<number> {
    const targets = this.table.resolve(target, false);
    const dependents = dependentsOf(targets.map((s) => s.name), this.table.graph())
      .map((n) => this.table.must(n)).filter((s) => s.row.status !== 'stopped');
    const all = [...targets, ...dependents];
    const count = all.filter((s) => s.row.status !== 'stopped').length;
    await this.scheduler.stopInOrder(all, (svc) => this.stopWanted(svc));
    return count;
  }

  /**
   * ServiceRestart: stops and starts each target (dependencies first); with reload, cluster
   * workers are replaced without downtime (Service.reloadRun). Returns how many restarted.
   */
  async restart(target: string, opts: { reload?: boolean } = {}): Promise<number> {
    const targets = this.table.resolve(target, false);
    this.scheduler.checkDependencies(targets.map((s) => s.row.config));
    await this.scheduler.restartInOrder(targets, opts);
    return targets.length;
  }

  /** ServiceDelete: stops targets and forgets them (their logs stay). Refuses if others depend on them. */
  async delete(target: string): Promise<number> {
    const targets = this.table.resolve(target, false);
    const names = targets.map((s) => s.name);
    for (const [name, deps] of this.table.graph()) {
      if (names.includes(name)) continue;
      const needed = deps.find((d) => names.includes(d));
      if (needed) throw new InvalidArgumentError(`cannot delete service '${needed}': service '${name}' depends on it (delete or redefine '${name}' first)`);
    }
    await this.forget(targets);
    return targets.length;
  }

  /** ServiceReset (pm2 reset): restart counters back to 0. Returns how many services. */
  reset(target: string): number {
    const targets = this.table.resolve(target, false);
    for (const svc of targets) {
      Object.assign(svc.row, { restartCount: 0, unstableRestarts: 0 });
      this.saveRow(svc.row);
    }
    return targets.length;
  }

  /** ServiceSignal (pm2 sendSignal): the signal to each running target's process group. Returns how many got it. */
  signal(target: string, signal: string): number {
    if (typeof signal !== 'string' || signal.trim() === '') throw new InvalidArgumentError('signal is required (a name such as SIGUSR2, or a number)');
    const sig = signalNameOf(signal, 'signal');
    const targets = this.table.resolve(target, false);
    const running = targets.filter((s) => s.running);
    if (running.length === 0) throw new InvalidArgumentError(`cannot send ${sig} to ${JSON.stringify(target)}: no running service (status ${targets.map((s) => s.row.status).join(', ')})`);
    return running.filter((s) => s.signal(sig)).length;
  }

  /** Every service, by id. */
  list(): Service[] {
    return this.table.list();
  }

  /** ServiceDescribe: one service by name or id. */
  describe(target: string): Service {
    if (target === '' || target === 'all') throw new InvalidArgumentError(`describe needs one service (a name or an id), got ${JSON.stringify(target)}`);
    return this.table.resolve(target, false)[0];
  }

  /** Services of a target where "" means all (ServiceLogs, ServiceFlush). */
  resolveOrAll(target: string): Service[] {
    return this.table.resolve(target, true);
  }

  /** ServiceSave: writes every definition and whether it is meant to run. */
  save(): { path: string; count: number } {
    return saveServices(this.snapshot);
  }

  /** ServiceResurrect: restores the snapshot (see save-resurrect.ts). */
  resurrect(): Promise<{ restored: number; started: number }> {
    return resurrectServices(this.snapshot);
  }

  /** Daemon shutdown: stops every run (dependents first); desired states stay for resurrect. */
  async close(opts: { graceful: boolean; graceMs: number }): Promise<void> {
    this.closing = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.memoryLimits.stop();
    this.triggers.close();
    for (const svc of this.table.list()) svc.clearTimers(true);
    const running = this.table.list().filter((s) => s.running || s.row.status === 'waiting');
    const levels = startLevels([...new Set(running.map((s) => s.name))], this.table.graph()).reverse();
    for (const level of levels) {
      // Every instance of the name: instances share it (a name stands for all of them).
      const services = level.flatMap((name) => running.filter((s) => s.name === name));
      await Promise.all(services.map((svc) => {
        const grace = opts.graceful ? Math.min(killTimeoutOf(svc.row.config), opts.graceMs) : 0;
        return svc.serialize(() => svc.stopRun(grace));
      }));
    }
    // After the runs: what they printed last is still in the pipes.
    this.logs.stop();
  }

  /** Stops services and removes them from the table and the database (their logs stay). */
  private async forget(services: Service[]): Promise<void> {
    await this.scheduler.stopInOrder(services, (svc) => this.stopWanted(svc));
    for (const svc of services) {
      svc.clearTimers(true);
      this.table.remove(svc);
      this.store.remove(svc.row.id);
    }
  }

  /** A stop asked for by a client: the service is no longer meant to run (and, as pm2, no longer watched). */
  private async stopWanted(svc: Service): Promise<void> {
    svc.row.desired = 'stopped';
    if (svc.row.config.watch) {
      svc.row.config = { ...svc.row.config, watch: false };
      this.triggers.update(svc);
    }
    await svc.stopRun();
  }
}
