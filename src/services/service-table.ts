// The table of defined services, by id and by name, for the daemon's life: adding, forgetting,
// resolving a target (id, name, namespace or "all") and the depends_on graph of what is defined.
// A name may have several services: pm2's instances, one service (id) each, sharing the name.
import { InvalidArgumentError, NotFoundError } from '../wire/errors';
import { serviceNameProblem } from './service-config';
import type { ServiceRow } from './service-store';
import { Service, type ServiceHost } from './service';

/** What else follows a service's life in the table (its log rotation). */
export interface TableHooks {
  added(svc: Service): void;
  removed(svc: Service): void;
}

export class ServiceTable {
  private readonly byId = new Map<number, Service>();
  /** Each name's services (instances), by id. */
  private readonly byName = new Map<string, Service[]>();

  constructor(private readonly host: ServiceHost, private readonly hooks: TableHooks) {}

  /** Creates the live service of a row and files it under its id and name. */
  add(row: ServiceRow): Service {
    const svc = new Service(row, this.host);
    this.byId.set(row.id, svc);
    this.byName.set(row.name, [...(this.byName.get(row.name) ?? []), svc].sort((a, b) => a.row.id - b.row.id));
    this.hooks.added(svc);
    return svc;
  }

  /** Forgets a service (delete); its row is removed by the caller. */
  remove(svc: Service): void {
    this.byId.delete(svc.row.id);
    const rest = (this.byName.get(svc.name) ?? []).filter((s) => s !== svc);
    if (rest.length > 0) this.byName.set(svc.name, rest);
    else this.byName.delete(svc.name);
    this.hooks.removed(svc);
  }

  /** The first service (lowest id) of that exact name, if defined. */
  get(name: string): Service | undefined {
    return this.byName.get(name)?.[0];
  }

  /** Every service (instance) of that name, by id; [] when none. */
  named(name: string): Service[] {
    return [...(this.byName.get(name) ?? [])];
  }

  /** The first service of that name; throws if it is not defined (callers pass names from the graph). */
  must(name: string): Service {
    const svc = this.get(name);
    if (!svc) throw new NotFoundError(`no service named '${name}'`);
    return svc;
  }

  hasId(id: number): boolean {
    return this.byId.has(id);
  }

  /** Every service, by id. */
  list(): Service[] {
    return [...this.byId.values()].sort((a, b) => a.row.id - b.row.id);
  }

  /** Smallest id above every id in use (ids start at 0 like pm2's and are never renumbered). */
  nextId(): number {
    let max = -1;
    for (const id of this.byId.keys()) max = Math.max(max, id);
    return max + 1;
  }

  /** name → depends_on of every defined service. */
  graph(): Map<string, readonly string[]> {
    return new Map([...this.byName].map(([name, s]) => [name, s[0].row.config.dependsOn]));
  }

  /**
   * Target → services, as pm2 reads one: "all"; a number is an id first (a service named "0" does
   * not hide id 0); then a name; then a namespace (every service in it). "" means all only where
   * allowed. Throws naming the target.
   */
  resolve(target: string, emptyMeansAll: boolean): Service[] {
    if (target === '' && !emptyMeansAll) throw new InvalidArgumentError(`target is required: a service name, an id, a namespace or 'all'`);
    if (target === '' || target === 'all') return this.list();
    if (/^\d+$/.test(target)) {
      const byId = this.byId.get(Number(target));
      if (byId) return [byId];
    }
    const byName = this.byName.get(target);
    if (byName) return [...byName];
    const inNamespace = this.list().filter((s) => s.row.config.namespace === target);
    if (inNamespace.length > 0) return inNamespace;
    if (/^\d+$/.test(target)) throw new NotFoundError(`no service with id ${target}`);
    if (serviceNameProblem(target)) throw new InvalidArgumentError(`invalid target ${JSON.stringify(target)}: expected a service name, an id, a namespace or 'all'`);
    throw new NotFoundError(`no service named '${target}'`);
  }
}
