// Where each service's logs live and keeping them rotated: the log paths of a name, the rotation
// limits a config asks for (zeros → the daemon's), and the rotator watching every defined
// service's files from its definition until it is deleted. Rotation itself is log-rotator.ts.
import type { Logger } from '../daemon/log';
import { logPathsOf, type LogPaths } from './log-files';
import { LogRotator } from './log-rotator';
import type { ServiceConfigData } from './service-config';

export interface RotationLimits {
  maxBytes: number;
  keep: number;
}

export class ServiceLogs {
  private readonly rotator: LogRotator;

  constructor(private readonly logsDir: string, private readonly daemonLimits: RotationLimits, log: Logger) {
    this.rotator = new LogRotator(log);
  }

  /** Log file paths of a service. */
  pathsOf(name: string): LogPaths {
    return logPathsOf(this.logsDir, name);
  }

  /** Rotation limits in effect for a config. */
  limitsOf(c: ServiceConfigData): RotationLimits {
    return { maxBytes: c.logMaxBytes || this.daemonLimits.maxBytes, keep: c.logMaxFiles || this.daemonLimits.keep };
  }

  /** Watches (or re-watches, after a redefinition) a service's logs. */
  watch(config: ServiceConfigData): void {
    this.rotator.watch(config.name, this.pathsOf(config.name), this.limitsOf(config));
  }

  unwatch(name: string): void {
    this.rotator.unwatch(name);
  }

  /** Starts the rotator's fallback timer (daemon start). */
  start(): void {
    this.rotator.start();
  }

  /** Stops every watch (daemon exit). */
  stop(): void {
    this.rotator.stop();
  }
}
