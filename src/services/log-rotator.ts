// Keeps every service's log files within their limits for the daemon's life: each file is checked
// when it changes (inotify through fs.watch, coalesced) and on a timer as a fallback, and rotated
// by copy-truncate once it reaches its size limit (see log-files.ts).
import * as fs from 'node:fs';
import { openNoFollowSync } from '../files/no-follow';
import type { Logger } from '../daemon/log';
import { rotateIfNeeded, type LogPaths } from './log-files';

/** Fallback check period, for changes inotify did not report (e.g. files on some network mounts). */
const ROTATE_INTERVAL_MS = 1000;
/** A burst of writes is checked once per this many ms. */
const CHANGE_COALESCE_MS = 5;

interface Watched {
  paths: LogPaths;
  limits: { maxBytes: number; keep: number };
  watchers: fs.FSWatcher[];
  pending: NodeJS.Timeout | null;
}

export class LogRotator {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly log: Logger) {}

  /** Starts the fallback timer. */
  start(): void {
    this.timer = setInterval(() => {
      for (const w of this.watched.values()) this.check(w);
    }, ROTATE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Watches (or re-watches with new limits) a service's two log files; creates them if missing. */
  watch(name: string, paths: LogPaths, limits: { maxBytes: number; keep: number }): void {
    this.unwatch(name);
    const w: Watched = { paths, limits, watchers: [], pending: null };
    for (const file of [paths.out, paths.err]) {
      try {
        fs.closeSync(openNoFollowSync(file, 'append', { private: true }));
        const watcher = fs.watch(file, { persistent: false }, () => this.schedule(w));
        watcher.on('error', () => watcher.close());
        w.watchers.push(watcher);
      } catch (err) {
        this.log.warn(`cannot watch log ${file} (the ${ROTATE_INTERVAL_MS} ms timer still rotates it): ${(err as Error).message}`);
      }
    }
    this.watched.set(name, w);
    this.check(w);
  }

  /** Stops watching a service's logs (delete). */
  unwatch(name: string): void {
    const w = this.watched.get(name);
    if (!w) return;
    for (const watcher of w.watchers) watcher.close();
    if (w.pending) clearTimeout(w.pending);
    this.watched.delete(name);
  }

  /** Stops everything (daemon exit). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const name of [...this.watched.keys()]) this.unwatch(name);
  }

  private schedule(w: Watched): void {
    if (w.pending) return;
    w.pending = setTimeout(() => {
      w.pending = null;
      this.check(w);
    }, CHANGE_COALESCE_MS);
  }

  private check(w: Watched): void {
    for (const file of [w.paths.out, w.paths.err]) {
      try {
        rotateIfNeeded(file, w.limits.maxBytes, w.limits.keep);
      } catch (err) {
        this.log.warn(`rotating ${file} failed: ${(err as Error).message}`);
      }
    }
  }
}
