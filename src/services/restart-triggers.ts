// Restarts from outside the run, as pm2 does them: watch (chokidar, as pm2's lib/Watcher.js: a
// change under the watched paths restarts the service watch_delay later, changes during that
// restart are ignored; a stop turns watch off, as pm2's) and cron_restart (croner, as pm2: at each
// time of the expression the service is restarted, or started, even after a client stopped it). One set per service id,
// kept in step with its config; closed when it is deleted or the daemon stops.
import * as path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import { Cron } from 'croner';
import type { Logger } from '../daemon/log';
import type { Service } from './service';

/**
 * pm2's ignore_watch default (dot files and node_modules, its /[\/\\]\.|node_modules/), as a test
 * of the path's parts below cwd: chokidar may hand a path relative to cwd (".hidden"), which that
 * regular expression would miss.
 */
function defaultIgnored(cwd: string): (p: string) => boolean {
  return (p) => path.relative(cwd, path.resolve(cwd, p)).split(path.sep).some((part) => part === 'node_modules' || (part.startsWith('.') && part !== '..'));
}

interface Triggers {
  key: string;
  watcher: FSWatcher | null;
  cron: Cron | null;
  restarting: boolean;
}

export class RestartTriggers {
  private readonly byId = new Map<number, Triggers>();

  /** `ownFiles` are what the daemon writes for a service (logs, pid file): never a reason to restart it. */
  constructor(private readonly log: Logger, private readonly ownFiles: (svc: Service) => string[]) {}

  /** Makes a service's watcher and cron job match its config (after a definition or redefinition). */
  update(svc: Service): void {
    const c = svc.row.config;
    const key = JSON.stringify([c.watch, c.watchPaths, c.ignoreWatch, c.watchDelayMs, c.cronRestart, c.cwd]);
    const current = this.byId.get(svc.row.id);
    if (current?.key === key) return;
    this.remove(svc.row.id);
    const t: Triggers = { key, watcher: null, cron: null, restarting: false };
    if (c.watch) t.watcher = this.watch(svc, t);
    if (c.cronRestart !== '') {
      t.cron = new Cron(c.cronRestart, () => {
        // As pm2 (test/e2e/misc/cron-system.sh): at its time the app runs again, even one a client stopped.
        void svc.restartNow(`cron_restart ${c.cronRestart}`, 'always').catch((err) => this.log.error(`service ${svc.name}: cron restart failed: ${(err as Error).message}`));
      });
    }
    this.byId.set(svc.row.id, t);
  }

  /** A service is deleted: its watcher and cron job go. */
  remove(id: number): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    t.cron?.stop();
    void t.watcher?.close().catch(() => undefined);
  }

  /** Daemon exit. */
  close(): void {
    for (const id of [...this.byId.keys()]) this.remove(id);
  }

  private watch(svc: Service, t: Triggers): FSWatcher {
    const c = svc.row.config;
    const own = new Set(this.ownFiles(svc));
    const ignored = [...(c.ignoreWatch.length > 0 ? c.ignoreWatch : [defaultIgnored(c.cwd)]), (p: string) => own.has(path.resolve(c.cwd, p))];
    const watcher = chokidar.watch(c.watchPaths.length > 0 ? c.watchPaths : [c.cwd], {
      ignored, ignoreInitial: true, persistent: true, cwd: c.cwd,
    });
    watcher.on('all', (event, file) => {
      if (t.restarting || svc.row.desired !== 'online') return;
      t.restarting = true;
      this.log.info(`service ${svc.name}: ${event} ${file}: restarting (watch)`);
      setTimeout(() => {
        svc.restartNow(`watch: ${event} ${file}`, 'exited').catch((err) => this.log.error(`service ${svc.name}: watch restart failed: ${(err as Error).message}`))
          .finally(() => { t.restarting = false; });
      }, c.watchDelayMs).unref();
    });
    watcher.on('error', (err) => this.log.warn(`service ${svc.name}: watch: ${(err as Error).message}`));
    return watcher;
  }
}
