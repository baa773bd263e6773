// Starting and stopping sets of services in depends_on order: dependencies start first and a
// dependent waits until each is online (woken by the service.status events of the daemon's bus,
// not by polling); dependents stop first. Lives as long as the manager.
import type { EventBus } from '../events/event-bus';
import { minUptimeOf } from './restart-policy';
import { InvalidArgumentError, UnavailableError } from '../wire/errors';
import { findCycle, startLevels } from './dependency-order';
import type { ServiceConfigData } from './service-config';
import { RUNNING_STATUSES, type Service } from './service';
import type { ServiceTable } from './service-table';

/** How long a start waits for its dependencies to come online. */
export const DEPENDENCY_WAIT_MS = 25_000;

export class DependencyScheduler {
  constructor(
    private readonly table: ServiceTable,
    private readonly events: EventBus,
    /** True once the daemon is shutting down: nothing more is spawned. */
    private readonly isClosing: () => boolean,
  ) {}

  /** Every dependency must exist and the graph with these configs must stay acyclic. */
  checkDependencies(configs: ServiceConfigData[]): void {
    const graph = this.table.graph();
    for (const c of configs) graph.set(c.name, c.dependsOn);
    for (const c of configs) {
      const missing = c.dependsOn.find((d) => !graph.has(d));
      if (missing) throw new InvalidArgumentError(`service '${c.name}' depends on unknown service '${missing}' (define it first)`);
    }
    const cycle = findCycle(graph);
    if (cycle) throw new InvalidArgumentError(`dependency cycle: ${cycle.join(' -> ')}`);
  }

  /**
   * Starts the named services (and what they need) level by level. With skipRunning, running ones
   * are left as they are; countAsRestart counts the start as a restart (re-adoption after a crash).
   * Every instance of each name is started, or with `only` just those of them (their
   * dependencies still come first).
   */
  async startInOrder(names: string[], skipRunning: boolean, countAsRestart = false, only?: ReadonlySet<Service>): Promise<void> {
    for (const level of startLevels(names, this.table.graph())) {
      const services = level.flatMap((name) => this.table.named(name)).filter((svc) => !only || only.has(svc));
      await Promise.all(services.map(async (svc) => {
        const name = svc.name;
        if (skipRunning && RUNNING_STATUSES.has(svc.row.status) && svc.running) return;
        await this.ensureDependenciesOnline(svc, new Set([name]));
        await svc.serialize(async () => {
          if (this.isClosing()) return;
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

  /** Stops and starts each service (dependencies first, each after its own are online). */
  async restartInOrder(services: Service[], opts: { reload?: boolean } = {}): Promise<void> {
    for (const level of startLevels(services.map((s) => s.name), this.table.graph())) {
      await Promise.all(services.filter((s) => level.includes(s.name)).map(async (svc) => {
        const name = svc.name;
        await this.ensureDependenciesOnline(svc, new Set([name]));
        await svc.serialize(() => (opts.reload ? svc.reloadRun() : svc.restartRun()));
      }));
    }
  }

  /** Stops services so that each stops only after everything in the set that depends on it. */
  async stopInOrder(services: Service[], stop: (svc: Service) => Promise<void> = (svc) => svc.stopRun()): Promise<void> {
    const levels = startLevels(services.map((s) => s.name), this.table.graph()).reverse();
    for (const level of levels) {
      await Promise.all(services.filter((s) => level.includes(s.name)).map((svc) => svc.serialize(() => stop(svc))));
    }
  }

  /** Starts any stopped dependency (recursively) and waits until all are online (past min_uptime). */
  private async ensureDependenciesOnline(svc: Service, path: Set<string>): Promise<void> {
    const deps = svc.row.config.dependsOn.flatMap((d) => this.table.named(d));
    await Promise.all(deps.map(async (dep) => {
      if (path.has(dep.name)) throw new InvalidArgumentError(`dependency cycle: ${[...path, dep.name].join(' -> ')}`);
      if (!RUNNING_STATUSES.has(dep.row.status) && dep.row.status !== 'stopping') {
        await this.ensureDependenciesOnline(dep, new Set([...path, dep.name]));
        await dep.serialize(async () => {
          if (RUNNING_STATUSES.has(dep.row.status) || this.isClosing()) return;
          dep.row.desired = 'online';
          dep.row.unstableRestarts = 0;
          await dep.spawnRun();
        });
      }
      await this.waitUntilOnline(dep, svc.name);
    }));
  }

  /**
   * Resolves once dep's current run is online and has been up min_uptime (a run is online at
   * spawn, as pm2's, so "up" means it did not crash at once); rejects when it ends errored or
   * stopped, or after DEPENDENCY_WAIT_MS. Every status change of a service is a service.status
   * event on the bus, so the row is looked at again only when that service's status changed, or
   * when the current run reaches min_uptime.
   */
  private waitUntilOnline(dep: Service, dependent: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let unsubscribe: () => void = () => undefined;
      let upTimer: NodeJS.Timeout | null = null;
      const finish = (err?: Error) => {
        clearTimeout(timer);
        if (upTimer) clearTimeout(upTimer);
        unsubscribe();
        if (err) reject(err);
        else resolve();
      };
      const settled = (): boolean => {
        const status = dep.row.status;
        if (status === 'online') {
          const left = dep.row.lastStartedAt + minUptimeOf(dep.row.config) - Date.now();
          if (left <= 0) finish();
          else {
            if (upTimer) clearTimeout(upTimer);
            upTimer = setTimeout(settled, left);
            return false;
          }
        } else if (status === 'errored' || status === 'stopped') {
          finish(new UnavailableError(`service '${dependent}' depends on '${dep.name}', which is ${status}${dep.row.lastError ? ` (${dep.row.lastError})` : ''}`));
        } else return false;
        return true;
      };
      const timer = setTimeout(() => {
        finish(new UnavailableError(`service '${dependent}': dependency '${dep.name}' did not come online within ${DEPENDENCY_WAIT_MS} ms (status ${dep.row.status})`));
      }, DEPENDENCY_WAIT_MS);
      if (settled()) return;
      unsubscribe = this.events.subscribe((event) => {
        if (event.kind === 'service.status' && event.service === dep.name) settled();
      });
    });
  }
}
