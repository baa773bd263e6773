// ServiceManager: the daemon's table of services for its whole life. Loads the services table at
// start (re-adopting runs that survived a daemon crash, restarting those that died meanwhile),
// resolves targets, orders work by depends_on, polls adopted pids and rotates logs on a timer.
import * as path from 'node:path';
import type { DaemonState } from '../daemon/state';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../wire/errors';
import { checkServiceConfig, SERVICE_NAME_PATTERN, type ServiceConfigData, type ServiceDefaults } from './service-config';
import { ServiceStore, type ServiceRow } from './service-store';
import { RUNNING_STATUSES, Service, type ServiceHost } from './service';
import type { MetricSample } from '../metrics/metrics';
import { dependentsOf, findCycle, startLevels, type DependencyGraph } from './dependency-order';
import { logPathsOf, type LogPaths } from './log-files';
import { checkLiveness, findSessionLeadersWithEnv, startTicksToEpochSeconds } from '../proc/process-table';
import { LogRotator } from './log-rotator';
import { readSnapshot, writeSnapshot, SNAPSHOT_FILE, type SnapshotEntry } from './snapshot';
import { retryAfterEnospc } from '../daemon/emergency-reserve';

/** How often adopted runs (not our children) are checked in /proc. */
const ADOPTED_POLL_MS = 250;
/** How long a start waits for its dependencies to come online. */
const DEPENDENCY_WAIT_MS = 25_000;
const DEPENDENCY_POLL_MS = 20;

export class ServiceManager {
  private readonly byId = new Map<number, Service>();
  private readonly byName = new Map<string, Service>();
  private readonly store: ServiceStore;
  private readonly host: ServiceHost;
  private readonly rotator: LogRotator;
  private pollTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly state: DaemonState) {
    if (!state.db) throw new Error('the services manager needs the database');
    this.store = new ServiceStore(state.db);
    const cfg = state.config;
    const baseEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const { key, value } of cfg.defaultEnv) baseEnv[key] = value;
    // Tags every run with its scope (the service's id is added per run): a daemon that died
    // between spawning a run and recording its pid can still find that run (recoverUnrecordedRun).
    baseEnv.RUNPM_SERVICE_SCOPE = cfg.paths.scopeHash;
    this.host = {
      log: state.log,
      baseEnv: () => baseEnv,
      logPaths: (name) => this.logPaths(name),
      persist: (row) => {
        // Runs from child exit/timer callbacks too: a row that cannot be written is logged, and the
        // in-memory row (still authoritative) goes out whole with the next change.
        try {
          this.saveRow(row);
        } catch (err) {
          state.log.error(`service ${row.name}: could not save its state: ${(err as Error).message}`);
        }
        this.publishStatus(row);
      },
    };
    this.rotator = new LogRotator(state.log);
  }

  /** Writes one row; a disk-full failure releases the emergency reserve and is retried once. */
  private saveRow(row: ServiceRow): void {
    retryAfterEnospc(this.state, `saving service ${row.name}`, () => this.store.save(row));
  }

  /** Last status published per service id: service.status events fire on changes only. */
  private readonly publishedStatus = new Map<number, string>();

  private publishStatus(row: { id: number; name: string; status: string; pid: number; restartCount: number }): void {
    if (this.publishedStatus.get(row.id) === row.status) return;
    this.publishedStatus.set(row.id, row.status);
    this.state.events.emit('service.status', { service: row.name, status: row.status, pid: row.pid, detail: `restarts ${row.restartCount}` });
  }

  /** Gauges for the metrics endpoint: services by status and their recorded restarts. */
  metricSamples(): MetricSample[] {
    const counts = new Map<string, number>();
    let restarts = 0;
    for (const s of this.list()) {
      counts.set(s.row.status, (counts.get(s.row.status) ?? 0) + 1);
      restarts += s.row.restartCount;
    }
    const samples: MetricSample[] = ['starting', 'online', 'stopping', 'stopped', 'waiting', 'errored']
      .map((status) => ({ name: 'runpm_services' as const, labels: { status }, value: counts.get(status) ?? 0 }));
    samples.push({ name: 'runpm_service_restarts', value: restarts });
    return samples;
  }

  /** Defaults a config's zeros stand for. */
  get defaults(): ServiceDefaults {
    return { cwd: this.state.cwd, logMaxBytes: this.state.config.logMaxBytes, logMaxFiles: this.state.config.logMaxFiles };
  }

  /** Log file paths of a service. */
  logPaths(name: string): LogPaths {
    return logPathsOf(this.state.config.paths.logsDir, name);
  }

  /** Where ServiceSave writes. */
  get snapshotPath(): string {
    return path.join(this.state.config.paths.stateDir, SNAPSHOT_FILE);
  }

  /**
   * Runs once at daemon start: loads every service; runs still alive (pid + start time) are
   * adopted, never started twice; those that died while no daemon watched are restarted if they
   * were meant to be online (in dependency order, in the background).
   */
  load(): void {
    const toRestart: Service[] = [];
    for (const row of this.store.loadAll()) {
      const svc = this.add(row);
      // A run we cannot check now (no fd left) is taken as alive: restarting it could double it.
      const liveness = row.pid === 0 ? 'dead' : checkLiveness({ pid: row.pid, startTicks: row.startTime });
      let alive = liveness === 'alive' || liveness === 'unknown';
      if (!alive && row.desired === 'online') alive = this.recoverUnrecordedRun(row);
      if (alive && row.desired === 'online' && RUNNING_STATUSES.has(row.status)) {
        svc.adopt();
        this.state.log.info(`service ${row.name}: re-adopted pid ${row.pid}`);
      } else if (alive) {
        // It was being stopped (or is no longer wanted) when the last daemon died: finish that.
        svc.adopted = true;
        void svc.serialize(() => svc.stopRun());
      } else {
        const wasRunning = row.desired === 'online' && RUNNING_STATUSES.has(row.status);
        if (row.pid !== 0) Object.assign(row, { pid: 0, startTime: 0, lastExitedAt: Date.now(), lastExitCode: -1 });
        if (wasRunning) toRestart.push(svc);
        else if (row.status === 'stopping' || row.status === 'starting' || row.status === 'online' || row.status === 'waiting') row.status = 'stopped';
        this.saveRow(row);
      }
    }
    this.pollTimer = setInterval(() => {
      for (const svc of this.byId.values()) svc.pollAdopted();
    }, ADOPTED_POLL_MS);
    this.pollTimer.unref();
    this.rotator.start();
    if (toRestart.length > 0) {
      void this.startInOrder(toRestart.map((s) => s.name), true, true).catch((err) => this.state.log.error(`restarting services after a daemon crash: ${(err as Error).message}`));
    }
  }

  /**
   * The recorded run is gone, but the last daemon may have spawned a newer one and died before
   * writing its pid: a live session leader tagged with this scope and service id is that run.
   * Adopting it (instead of spawning) is what keeps a crash from doubling the service.
   */
  private recoverUnrecordedRun(row: ServiceRow): boolean {
    const runs = findSessionLeadersWithEnv([`RUNPM_SERVICE_SCOPE=${this.state.config.paths.scopeHash}`, `RUNPM_SERVICE_ID=${row.id}`]);
    if (runs.length === 0) return false;
    const newest = runs.reduce((a, b) => (b.startTicks > a.startTicks ? b : a));
    this.state.log.warn(`service ${row.name}: found run pid ${newest.pid} that the last daemon did not record; adopting it`);
    Object.assign(row, { pid: newest.pid, startTime: newest.startTicks, lastStartedAt: startTicksToEpochSeconds(newest.startTicks) * 1000 });
    if (row.status === 'waiting' || !RUNNING_STATUSES.has(row.status)) row.status = 'starting';
    return true;
  }

  /** ServiceStart: defines (or redefines a stopped) service and starts it after its dependencies. */
  async start(input: unknown): Promise<Service> {
    const config = checkServiceConfig(input, this.defaults);
    const existing = this.byName.get(config.name);
    if (existing && existing.row.status !== 'stopped' && existing.row.status !== 'errored') {
      throw new InvalidArgumentError(`service '${config.name}' already exists (status ${existing.row.status}; stop or delete it first)`);
    }
    this.checkDependencies([config]);
    let svc = existing;
    if (svc) {
      svc.row.config = config;
      this.rotator.watch(svc.name, this.logPaths(svc.name), this.limitsOf(config));
    } else {
      svc = this.add({
        id: this.nextId(), name: config.name, config, desired: 'stopped', status: 'stopped', pid: 0, startTime: 0, restartCount: 0,
        unstableRestarts: 0, backoffMs: 0, createdAt: Date.now(), lastStartedAt: 0, lastExitedAt: 0, lastExitCode: 0, lastError: '',
      });
      this.saveRow(svc.row);
    }
    await this.startInOrder([config.name], false);
    return svc;
  }

  /** ServiceStop: stops targets and, first, whatever runs that depends on them. Returns how many stopped. */
  async stop(target: string): Promise<number> {
    const targets = this.resolve(target, false);
    const graph = this.graph();
    const names = targets.map((s) => s.name);
    const dependents = dependentsOf(names, graph).map((n) => this.byName.get(n)!).filter((s) => s.row.status !== 'stopped');
    const all = [...targets, ...dependents];
    const count = all.filter((s) => s.row.status !== 'stopped').length;
    await this.stopInOrder(all);
    return count;
  }

  /** ServiceRestart: stops and starts each target (dependencies first). Returns how many restarted. */
  async restart(target: string): Promise<number> {
    const targets = this.resolve(target, false);
    this.checkDependencies(targets.map((s) => s.row.config));
    const levels = startLevels(targets.map((s) => s.name), this.graph());
    for (const level of levels) {
      await Promise.all(level.map(async (name) => {
        const svc = this.byName.get(name)!;
        await this.ensureDependenciesOnline(svc, new Set([name]));
        await svc.serialize(async () => {
          await svc.stopRun();
          svc.row.desired = 'online';
          svc.row.unstableRestarts = 0;
          svc.row.restartCount++;
          await svc.spawnRun();
        });
      }));
    }
    return targets.length;
  }

  /** ServiceDelete: stops targets and forgets them (their logs stay). Refuses if others depend on them. */
  async delete(target: string): Promise<number> {
    const targets = this.resolve(target, false);
    const names = targets.map((s) => s.name);
    for (const [name, deps] of this.graph()) {
      if (names.includes(name)) continue;
      const needed = deps.find((d) => names.includes(d));
      if (needed) throw new InvalidArgumentError(`cannot delete service '${needed}': service '${name}' depends on it (delete or redefine '${name}' first)`);
    }
    await this.stopInOrder(targets);
    for (const svc of targets) {
      svc.clearTimers(true);
      this.byId.delete(svc.row.id);
      this.byName.delete(svc.name);
      this.rotator.unwatch(svc.name);
      this.store.remove(svc.row.id);
    }
    return targets.length;
  }

  /** Every service, by id. */
  list(): Service[] {
    return [...this.byId.values()].sort((a, b) => a.row.id - b.row.id);
  }

  /** ServiceDescribe: one service by name or id. */
  describe(target: string): Service {
    if (target === '' || target === 'all') throw new InvalidArgumentError(`describe needs one service (a name or an id), got ${JSON.stringify(target)}`);
    return this.resolve(target, false)[0];
  }

  /** Services of a target where "" means all (ServiceLogs, ServiceFlush). */
  resolveOrAll(target: string): Service[] {
    return this.resolve(target, true);
  }

  /** Rotation limits in effect for a config. */
  limitsOf(c: ServiceConfigData): { maxBytes: number; keep: number } {
    return { maxBytes: c.logMaxBytes || this.state.config.logMaxBytes, keep: c.logMaxFiles || this.state.config.logMaxFiles };
  }

  /** ServiceSave: writes every definition and whether it is meant to run. */
  save(): { path: string; count: number } {
    const entries: SnapshotEntry[] = this.list().map((s) => ({
      id: s.row.id, name: s.name, config: s.row.config, online: s.row.desired === 'online' && RUNNING_STATUSES.has(s.row.status),
    }));
    retryAfterEnospc(this.state, 'ServiceSave', () => writeSnapshot(this.snapshotPath, entries));
    return { path: this.snapshotPath, count: entries.length };
  }

  /**
   * ServiceResurrect: checks the whole snapshot first (nothing changes if it is bad), then
   * restores every definition and starts the ones saved as online that are not running. Idempotent.
   */
  async resurrect(): Promise<{ restored: number; started: number }> {
    const snapshot = readSnapshot(this.snapshotPath, this.defaults);
    const merged = new Map<string, readonly string[]>(this.graph());
    for (const e of snapshot.services) {
      const current = this.byName.get(e.name);
      if (!current || !RUNNING_STATUSES.has(current.row.status)) merged.set(e.name, e.config.dependsOn);
    }
    for (const [name, deps] of merged) {
      const missing = deps.find((d) => !merged.has(d));
      if (missing) throw new InvalidArgumentError(`snapshot ${this.snapshotPath}: service '${name}' depends on unknown service '${missing}'`);
    }
    const cycle = findCycle(merged);
    if (cycle) throw new InvalidArgumentError(`snapshot ${this.snapshotPath}: dependency cycle: ${cycle.join(' -> ')}`);
    const toStart: string[] = [];
    for (const e of snapshot.services) {
      let svc = this.byName.get(e.name);
      if (svc && RUNNING_STATUSES.has(svc.row.status)) continue; // Running already: left alone.
      if (svc) svc.row.config = e.config;
      else {
        const id = e.id >= 0 && !this.byId.has(e.id) ? e.id : this.nextId();
        svc = this.add({
          id, name: e.name, config: e.config, desired: 'stopped', status: 'stopped', pid: 0, startTime: 0, restartCount: 0,
          unstableRestarts: 0, backoffMs: 0, createdAt: Date.now(), lastStartedAt: 0, lastExitedAt: 0, lastExitCode: 0, lastError: '',
        });
      }
      this.saveRow(svc.row);
      if (e.online) toStart.push(e.name);
    }
    await this.startInOrder(toStart, true);
    return { restored: snapshot.services.length, started: toStart.length };
  }

  /** Daemon shutdown: stops every run (dependents first); desired states stay for resurrect. */
  async close(opts: { graceful: boolean; graceMs: number }): Promise<void> {
    this.closing = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.rotator.stop();
    for (const svc of this.byId.values()) svc.clearTimers(true);
    const running = this.list().filter((s) => s.running || s.row.status === 'waiting');
    const levels = startLevels(running.map((s) => s.name), this.graph()).reverse();
    for (const level of levels) {
      await Promise.all(level.map((name) => {
        const svc = this.byName.get(name)!;
        const grace = opts.graceful ? Math.min(svc.row.config.killTimeoutMs || 3000, opts.graceMs) : 0;
        return svc.serialize(() => svc.stopRun(grace));
      }));
    }
  }

  private add(row: ServiceRow): Service {
    const svc = new Service(row, this.host);
    this.byId.set(row.id, svc);
    this.byName.set(row.name, svc);
    this.rotator.watch(row.name, this.logPaths(row.name), this.limitsOf(row.config));
    return svc;
  }

  /** Smallest id above every id in use (ids start at 0 like pm2's and are never renumbered). */
  private nextId(): number {
    let max = -1;
    for (const id of this.byId.keys()) max = Math.max(max, id);
    return max + 1;
  }

  private graph(): Map<string, readonly string[]> {
    return new Map([...this.byName].map(([name, s]) => [name, s.row.config.dependsOn]));
  }

  /** Every dependency must exist and the graph with these configs must stay acyclic. */
  private checkDependencies(configs: ServiceConfigData[]): void {
    const graph = this.graph();
    for (const c of configs) graph.set(c.name, c.dependsOn);
    for (const c of configs) {
      const missing = c.dependsOn.find((d) => !graph.has(d));
      if (missing) throw new InvalidArgumentError(`service '${c.name}' depends on unknown service '${missing}' (define it first)`);
    }
    const cycle = findCycle(graph);
    if (cycle) throw new InvalidArgumentError(`dependency cycle: ${cycle.join(' -> ')}`);
  }

  /** Starts the named services (and what they need) level by level; running ones are left as they are. */
  private async startInOrder(names: string[], skipRunning: boolean, countAsRestart = false): Promise<void> {
    const graph = this.graph();
    for (const level of startLevels(names, graph)) {
      await Promise.all(level.map(async (name) => {
        const svc = this.byName.get(name);
        if (!svc || (skipRunning && RUNNING_STATUSES.has(svc.row.status) && svc.running)) return;
        await this.ensureDependenciesOnline(svc, new Set([name]));
        await svc.serialize(async () => {
          if (this.closing) return;
          if (skipRunning && svc.running) return;
          svc.row.desired = 'online';
          svc.row.unstableRestarts = 0;
          svc.row.backoffMs = 0;
          if (countAsRestart) svc.row.restartCount++;
          await svc.spawnRun();
        });
      }));
    }
  }

  /** Starts any stopped dependency (recursively) and waits until all are online (past min_uptime). */
  private async ensureDependenciesOnline(svc: Service, path: Set<string>): Promise<void> {
    const deps = svc.row.config.dependsOn.map((d) => this.byName.get(d)).filter((d): d is Service => d !== undefined);
    await Promise.all(deps.map(async (dep) => {
      if (path.has(dep.name)) throw new InvalidArgumentError(`dependency cycle: ${[...path, dep.name].join(' -> ')}`);
      if (!RUNNING_STATUSES.has(dep.row.status) && dep.row.status !== 'stopping') {
        await this.ensureDependenciesOnline(dep, new Set([...path, dep.name]));
        await dep.serialize(async () => {
          if (RUNNING_STATUSES.has(dep.row.status) || this.closing) return;
          dep.row.desired = 'online';
          dep.row.unstableRestarts = 0;
          await dep.spawnRun();
        });
      }
      const deadline = Date.now() + DEPENDENCY_WAIT_MS;
      while (dep.row.status !== 'online') {
        if (dep.row.status === 'errored' || dep.row.status === 'stopped') {
          throw new UnavailableError(`service '${svc.name}' depends on '${dep.name}', which is ${dep.row.status}${dep.row.lastError ? ` (${dep.row.lastError})` : ''}`);
        }
        if (Date.now() > deadline) throw new UnavailableError(`service '${svc.name}': dependency '${dep.name}' did not come online within ${DEPENDENCY_WAIT_MS} ms (status ${dep.row.status})`);
        await new Promise((r) => setTimeout(r, DEPENDENCY_POLL_MS));
      }
    }));
  }

  /** Stops services so that each stops only after everything in the set that depends on it. */
  private async stopInOrder(services: Service[]): Promise<void> {
    const levels = startLevels(services.map((s) => s.name), this.graph()).reverse();
    for (const level of levels) {
      await Promise.all(level.map((name) => {
        const svc = this.byName.get(name)!;
        return svc.serialize(async () => {
          svc.row.desired = 'stopped';
          await svc.stopRun();
        });
      }));
    }
  }

  /** Name, id or "all" → services; "" means all only where allowed. Throws naming the target. */
  private resolve(target: string, emptyMeansAll: boolean): Service[] {
    if (target === '' && !emptyMeansAll) throw new InvalidArgumentError(`target is required: a service name, an id or 'all'`);
    if (target === '' || target === 'all') return this.list();
    const byName = this.byName.get(target);
    if (byName) return [byName];
    if (/^\d+$/.test(target)) {
      const byId = this.byId.get(Number(target));
      if (byId) return [byId];
      throw new NotFoundError(`no service with id ${target}`);
    }
    if (!SERVICE_NAME_PATTERN.test(target)) throw new InvalidArgumentError(`invalid target ${JSON.stringify(target)}: expected a service name, an id or 'all'`);
    throw new NotFoundError(`no service named '${target}'`);
  }

  /** Used by the handler for exactness checks in tests and list output. */
  get size(): number {
    return this.byId.size;
  }

  /** The graph of every defined service (for tests of ordering). */
  get dependencyGraph(): DependencyGraph {
    return this.graph();
  }
}
