// Client methods for services (request types 50–59), installed on DaemonClient by declaration
// merging. Following logs as they are written: service-logs-api.ts.
import { DaemonClient, type CallOptions } from './daemon-client';
import { RequestType } from '../wire/proto';
import type { RequestInput, ResponseOutput } from '../wire/payload';
// Type only: erased at compile time, so the client never loads daemon code.
import type { ServiceConfigData } from '../services/service-config';

/** A service's config as callers give it (zeros and omissions mean "default"). */
export type ServiceConfigInput = NonNullable<RequestInput<'serviceStart'>['config']>;
/**
 * A service's config as the daemon reports it (every field present; zeros mean "default"): the
 * daemon's stored form. `env` is empty in list output: env values are shown only by describe.
 */
export type ServiceConfigInfo = ServiceConfigData;

/** A service's state as the daemon reports it (times in epoch seconds, 0 = never; exit code -1 = unknown). */
export interface ServiceInfo {
  id: number;
  name: string;
  status: 'starting' | 'online' | 'stopping' | 'stopped' | 'waiting' | 'errored';
  pid: number;
  restartCount: number;
  unstableRestarts: number;
  backoffMs: number;
  lastStartedAt: number;
  lastExitedAt: number;
  lastExitCode: number;
  lastError: string;
  cpuPercent: number;
  memoryBytes: number;
  outLogPath: string;
  errLogPath: string;
  /** pm2's combined log (log_file) in effect, "" = none. */
  combinedLogPath: string;
  /** The pid file in effect (pid_file with "-<id>" before ".pid"), "" = none. */
  pidFilePath: string;
  /** NODE_APP_INSTANCE of this instance (0 for a single one). */
  instanceIndex: number;
  /** When the service was defined (epoch seconds; pm2's created_at). */
  createdAt: number;
  config: ServiceConfigInfo;
}

type WireService = ResponseOutput<'serviceList'>['services'][number];

/** The decoded message as a plain object with every field (JSON shows zeros too). */
export function toInfo(s: WireService | null | undefined): ServiceInfo {
  if (!s) throw new Error('runpmd answered without a service');
  const c = s.config;
  return {
    id: s.id ?? 0, name: s.name ?? '', status: (s.status ?? 'stopped') as ServiceInfo['status'], pid: s.pid ?? 0,
    restartCount: s.restartCount ?? 0, unstableRestarts: s.unstableRestarts ?? 0, backoffMs: s.backoffMs ?? 0,
    lastStartedAt: s.lastStartedAt ?? 0, lastExitedAt: s.lastExitedAt ?? 0, lastExitCode: s.lastExitCode ?? 0, lastError: s.lastError ?? '',
    cpuPercent: s.cpuPercent ?? 0, memoryBytes: Number(s.memoryBytes ?? 0), outLogPath: s.outLogPath ?? '', errLogPath: s.errLogPath ?? '',
    combinedLogPath: s.combinedLogPath ?? '', pidFilePath: s.pidFilePath ?? '', instanceIndex: s.instanceIndex ?? 0, createdAt: s.createdAt ?? 0,
    config: {
      name: c?.name ?? '', cmd: [...(c?.cmd ?? [])], cwd: c?.cwd ?? '', env: { ...(c?.env ?? {}) }, autorestart: c?.autorestart ?? false,
      maxRestarts: c?.maxRestarts ?? 0, restartDelayMs: c?.restartDelayMs ?? 0, killTimeoutMs: c?.killTimeoutMs ?? 0,
      minUptimeMs: c?.minUptimeMs ?? 0, dependsOn: [...(c?.dependsOn ?? [])], logMaxBytes: Number(c?.logMaxBytes ?? 0),
      logMaxFiles: c?.logMaxFiles ?? 0, environmentPolicy: c?.environmentPolicy ?? 0,
      expBackoffRestartDelayMs: c?.expBackoffRestartDelayMs ?? 0, stopExitCodes: [...(c?.stopExitCodes ?? [])],
      maxMemoryRestartBytes: Number(c?.maxMemoryRestartBytes ?? 0), instances: c?.instances ?? 0, instanceVar: c?.instanceVar ?? '',
      watch: c?.watch ?? false, watchPaths: [...(c?.watchPaths ?? [])], ignoreWatch: [...(c?.ignoreWatch ?? [])],
      watchDelayMs: c?.watchDelayMs ?? 0, cronRestart: c?.cronRestart ?? '', namespace: c?.namespace ?? '', pidFile: c?.pidFile ?? '',
      outFile: c?.outFile ?? '', errorFile: c?.errorFile ?? '', logFile: c?.logFile ?? '', mergeLogs: c?.mergeLogs ?? false,
      time: c?.time ?? false, logDateFormat: c?.logDateFormat ?? '', killSignal: c?.killSignal ?? '', incrementVar: c?.incrementVar ?? '',
      execMode: c?.execMode === 'cluster' ? 'cluster' : '', nodeArgsCount: c?.nodeArgsCount ?? 0,
      waitReady: c?.waitReady ?? false, listenTimeoutMs: c?.listenTimeoutMs ?? 0, logType: c?.logType === 'json' ? 'json' : '',
    },
  };
}

/**
 * Call options of a start: restartExisting is pm2's `start` of an app that exists (redefine and
 * restart it); addInstances is pm2's `start -f` (more instances beside the existing ones; resolves
 * with the added ones).
 */
export type StartOptions = CallOptions & { restartExisting?: boolean; addInstances?: boolean; renameFrom?: string };

/** Longer than the default: a start may wait for its dependencies to come online. */
const SERVICE_CALL_TIMEOUT_MS = 60_000;

declare module './daemon-client' {
  interface DaemonClient {
    /** ServiceStart: defines and starts a service (autorestart defaults to true). Resolves with its (first instance's) state. */
    startService(config: ServiceConfigInput, opts?: StartOptions): Promise<ServiceInfo>;
    /** ServiceStart resolving with every instance (config.instances; pm2 -i N), by id. */
    startServiceInstances(config: ServiceConfigInput, opts?: StartOptions): Promise<ServiceInfo[]>;
    /** ServiceStop: target is a name, an id or "all"; resolves with how many stopped. */
    stopService(target: string, opts?: CallOptions): Promise<number>;
    /** ServiceRestart: resolves with how many restarted. */
    /** With reload, cluster-mode workers are replaced without downtime (pm2 reload). */
    restartService(target: string, opts?: CallOptions & { reload?: boolean }): Promise<number>;
    /** ServiceDelete: stops and forgets; resolves with how many were deleted. */
    deleteService(target: string, opts?: CallOptions): Promise<number>;
    /** ServiceList: every service (no env values). */
    listServices(opts?: CallOptions): Promise<ServiceInfo[]>;
    /** ServiceDescribe: one service with its full config. */
    describeService(target: string, opts?: CallOptions): Promise<ServiceInfo>;
    /** ServiceLogs: the last `lines` lines of each stream, each labelled `[name:out]` / `[name:err]`. */
    serviceLogs(opts?: { target?: string; lines?: number; outOnly?: boolean; errOnly?: boolean }, call?: CallOptions): Promise<string>;
    /** ServiceFlush: empties the logs of target ("" = all); resolves with how many services. */
    flushServiceLogs(target?: string, opts?: CallOptions): Promise<number>;
    /** ServiceSave: writes the snapshot; resolves with its path and service count. */
    saveServices(opts?: CallOptions): Promise<{ snapshotPath: string; serviceCount: number }>;
    /** ServiceResurrect: restores the snapshot; resolves with restored and started counts. */
    resurrectServices(opts?: CallOptions): Promise<{ restoredCount: number; startedCount: number }>;
    /** ServiceReset (pm2 reset): restart and unstable counters of target back to 0; resolves with how many. */
    resetService(target: string, opts?: CallOptions): Promise<number>;
    /** ServiceSignal (pm2 sendSignal): a signal name or number to each running target; resolves with how many got it. */
    signalService(target: string, signal: string, opts?: CallOptions): Promise<number>;
  }
}

const withTimeout = (opts?: CallOptions): CallOptions => ({ timeoutMs: SERVICE_CALL_TIMEOUT_MS, ...opts });

DaemonClient.prototype.startServiceInstances = function (this: DaemonClient, config, opts = {}) {
  const full = { ...config, autorestart: config.autorestart ?? true };
  const { restartExisting, addInstances, renameFrom, ...call } = opts;
  return this.request(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart',
    { config: full, restartExisting: restartExisting ?? false, addInstances: addInstances ?? false, renameFrom: renameFrom ?? '' }, withTimeout(call))
    .then((r) => (r.instances.length > 0 ? r.instances.map(toInfo) : [toInfo(r.service)]));
};
DaemonClient.prototype.startService = function (this: DaemonClient, config, opts) {
  return this.startServiceInstances(config, opts).then((all) => all[0]);
};
DaemonClient.prototype.stopService = function (this: DaemonClient, target, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_STOP, 'serviceStop', { target }, withTimeout(opts)).then((r) => r.stoppedCount);
};
DaemonClient.prototype.restartService = function (this: DaemonClient, target, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_RESTART, 'serviceRestart', { target, reload: opts?.reload === true }, withTimeout(opts)).then((r) => r.restartedCount);
};
DaemonClient.prototype.deleteService = function (this: DaemonClient, target, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_DELETE, 'serviceDelete', { target }, withTimeout(opts)).then((r) => r.deletedCount);
};
DaemonClient.prototype.listServices = function (this: DaemonClient, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_LIST, 'serviceList', {}, opts).then((r) => r.services.map(toInfo));
};
DaemonClient.prototype.describeService = function (this: DaemonClient, target, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_DESCRIBE, 'serviceDescribe', { target }, opts).then((r) => toInfo(r.service));
};
DaemonClient.prototype.serviceLogs = function (this: DaemonClient, o = {}, call) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs',
    { target: o.target ?? '', lines: o.lines ?? 0, outOnly: o.outOnly ?? false, errOnly: o.errOnly ?? false }, call).then((r) => r.logText);
};
DaemonClient.prototype.flushServiceLogs = function (this: DaemonClient, target = '', opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_FLUSH, 'serviceFlush', { target }, opts).then((r) => r.flushedCount);
};
DaemonClient.prototype.saveServices = function (this: DaemonClient, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_SAVE, 'serviceSave', {}, opts)
    .then((r) => ({ snapshotPath: r.snapshotPath, serviceCount: r.serviceCount }));
};
DaemonClient.prototype.resurrectServices = function (this: DaemonClient, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_RESURRECT, 'serviceResurrect', {}, withTimeout(opts))
    .then((r) => ({ restoredCount: r.restoredCount, startedCount: r.startedCount }));
};
DaemonClient.prototype.resetService = function (this: DaemonClient, target, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_RESET, 'serviceReset', { target }, opts).then((r) => r.resetCount);
};
DaemonClient.prototype.signalService = function (this: DaemonClient, target, signal, opts) {
  return this.request(RequestType.REQUEST_TYPE_SERVICE_SIGNAL, 'serviceSignal', { target, signal }, opts).then((r) => r.signaledCount);
};
