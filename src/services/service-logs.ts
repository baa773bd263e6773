// Where each service's logs live and who writes them: the log paths of a name, the rotation limits
// a config asks for (zeros → the daemon's), and, from a service's definition until its deletion,
// its two FIFOs (log-pipe.ts) and the daemon's two writers (log-writer.ts) that move what its runs
// print into the files, rotating them by rename-and-reopen.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withUserUmask } from '../scope/umask';
import type { Logger } from '../daemon/log';
import { logPathsOf, type LogOwner, type LogPaths } from './log-files';
import { ensureLogFifos, logFifosOf, openFifo, removeLogFifos } from './log-pipe';
import { LogWriter, type RotationLimits } from './log-writer';
import { JsonLines, LineStamper, stampFormatOf } from './log-stamp';
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

/** The writers of one service, keyed by its id. */
interface Writers {
  /** What they were made for (paths and time format): a redefinition that changes it makes new ones. */
  key: string;
  out: LogWriter;
  err: LogWriter;
  /** pm2's log_file, fed by both (no pipe of its own). */
  combined: LogWriter | null;
}

export class ServiceLogs {
  private readonly writers = new Map<number, Writers>();

  constructor(private readonly deps: ServiceLogsDeps) {}

  /** Log file paths of a service. */
  pathsOf(owner: LogOwner): LogPaths {
    return logPathsOf(this.deps.logsDir, owner);
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
    const paths = this.pathsOf({ id, name: config.name, config });
    const format = stampFormatOf(config);
    const key = JSON.stringify([paths, format, config.logType]);
    const current = this.writers.get(id);
    if (current && current.key === key) {
      for (const w of [current.out, current.err, current.combined]) w?.setLimits(this.limitsOf(config));
      return;
    }
    if (current) this.closeWriters(id);
    // As pm2, the directories of out_file / error_file / log_file are made when missing (with the
    // user's umask, like files the user asked for); one that cannot be made shows as the open's error.
    for (const file of [config.outFile, config.errorFile, config.logFile]) {
      if (file === '' || file.startsWith('/dev/')) continue;
      try {
        withUserUmask(() => fs.mkdirSync(path.dirname(file), { recursive: true }));
      } catch {
        // Reported by the writer, naming the file.
      }
    }
    const fifos = logFifosOf(this.deps.stateDir, id);
    ensureLogFifos(fifos);
    const made: LogWriter[] = [];
    const writer = (stream: 'out' | 'err' | 'combined', file: string, copyTo?: LogWriter | null) => {
      // pm2's log_type json carries the time in each record (log_date_format, else ISO).
      const stamper = stream === 'combined' ? null : config.logType === 'json'
        ? new JsonLines(stream, { id, name: config.name }, config.logDateFormat === '' ? null : config.logDateFormat)
        : format !== null ? new LineStamper(format) : null;
      const w = new LogWriter({
        label: `service ${config.name} ${stream}`, fifo: stream === 'combined' ? null : fifos[stream], file, limits: this.limitsOf(config),
        log: this.deps.log, retryAfterEnospc: (what, write) => this.deps.retryAfterEnospc(what, write),
        transform: stamper ? (chunk) => stamper.transform(chunk) : undefined,
        copyTo: copyTo ? (chunk) => copyTo.writeChunk(chunk) : undefined,
      });
      made.push(w);
      return w;
    };
    try {
      const combined = paths.combined !== '' ? writer('combined', paths.combined) : null;
      this.writers.set(id, { key, out: writer('out', paths.out, combined), err: writer('err', paths.err, combined), combined });
    } catch (err) {
      for (const w of made) w.close();
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
    writers?.combined?.ensureFile();
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
    w.combined?.close(); // after the two that copy into it
  }
}
