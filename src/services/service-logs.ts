// Where each service's logs live and who writes them: the log paths of a name, the rotation limits
// a config asks for (zeros → the daemon's), and, from a service's definition until its deletion,
// its two FIFOs (log-pipe.ts) and the daemon's two writers (log-writer.ts) that move what its runs
// print into the files, rotating them by rename-and-reopen.
import * as fs from 'node:fs';
import type { Logger } from '../daemon/log';
import { logPathsOf, type LogPaths } from './log-files';
import { ensureLogFifos, logFifosOf, openFifo, removeLogFifos } from './log-pipe';
import { LogWriter, type RotationLimits } from './log-writer';
import type { ServiceConfigData } from './service-config';

export type { RotationLimits } from './log-writer';

export interface ServiceLogsDeps {
  logsDir: string;
  /** The scope's state directory (its pipes/ holds the FIFOs). */
  stateDir: string;
  daemonLimits: RotationLimits;
  log: Logger;
  retryAfterEnospc(what: string, write: () => void): void;
}

/** The writers of one service, keyed by its id (names are what the files are called after). */
interface Writers {
  name: string;
  out: LogWriter;
  err: LogWriter;
}

export class ServiceLogs {
  private readonly writers = new Map<number, Writers>();

  constructor(private readonly deps: ServiceLogsDeps) {}

  /** Log file paths of a service. */
  pathsOf(name: string): LogPaths {
    return logPathsOf(this.deps.logsDir, name);
  }

  /** Rotation limits in effect for a config. */
  limitsOf(c: ServiceConfigData): RotationLimits {
    return { maxBytes: c.logMaxBytes || this.deps.daemonLimits.maxBytes, keep: c.logMaxFiles || this.deps.daemonLimits.keep };
  }

  /**
   * A service is defined (or redefined): its FIFOs exist and its writers run, with the config's
   * limits. Runs of an earlier daemon that still write into the FIFOs are read from here on.
   */
  watch(id: number, config: ServiceConfigData): void {
    const current = this.writers.get(id);
    if (current && current.name === config.name) {
      current.out.setLimits(this.limitsOf(config));
      current.err.setLimits(this.limitsOf(config));
      return;
    }
    if (current) this.closeWriters(id);
    const fifos = logFifosOf(this.deps.stateDir, id);
    ensureLogFifos(fifos);
    const paths = this.pathsOf(config.name);
    const writer = (stream: 'out' | 'err') => new LogWriter({
      label: `service ${config.name} ${stream}`, fifo: fifos[stream], file: paths[stream], limits: this.limitsOf(config),
      log: this.deps.log, retryAfterEnospc: (what, write) => this.deps.retryAfterEnospc(what, write),
    });
    const out = writer('out');
    try {
      this.writers.set(id, { name: config.name, out, err: writer('err') });
    } catch (err) {
      out.close();
      throw err;
    }
  }

  /**
   * The stdout and stderr of a new run: its own read-write opens of the FIFOs (the caller passes
   * them to the child and closes them). Throws when a log file cannot be opened (the start fails).
   */
  openRunStdio(id: number): [number, number] {
    const writers = this.writers.get(id);
    writers?.out.ensureFile();
    writers?.err.ensureFile();
    const fifos = logFifosOf(this.deps.stateDir, id);
    const out = openFifo(fifos.out, false);
    try {
      return [out, openFifo(fifos.err, false)];
    } catch (err) {
      fs.closeSync(out);
      throw err;
    }
  }

  /** A service is deleted: what its pipes still hold is written, then writers and FIFOs go (the log files stay). */
  unwatch(id: number): void {
    this.closeWriters(id);
    removeLogFifos(logFifosOf(this.deps.stateDir, id));
  }

  /** Daemon exit (after every run stopped): each writer writes what its pipe still holds and closes. */
  stop(): void {
    for (const id of [...this.writers.keys()]) this.closeWriters(id);
  }

  private closeWriters(id: number): void {
    const w = this.writers.get(id);
    if (!w) return;
    this.writers.delete(id);
    w.out.close();
    w.err.close();
  }
}
