// Service requests (50–59, reset 1051, signal 1052): start, stop, restart, delete, reset, signal, list, describe, save and resurrect,
// answered by the daemon's ServiceManager (logs and flush: service-logs.ts). Times on the wire are epoch seconds.
import { RequestType } from '../../wire/proto';
import { InvalidArgumentError, UnavailableError } from '../../wire/errors';
import { unary, type DispatchEntry, type HandlerContext } from '../dispatch';
import type { ServiceManager } from '../../services/service-manager';
import type { Service } from '../../services/service';
import { UsageReader, type ProcessUsage as Usage } from '../../proc/usage';

function managerOf(ctx: HandlerContext): ServiceManager {
  const m = ctx.state.services;
  if (!m) throw new UnavailableError('services are not available in this daemon (database not open)');
  return m;
}

/** One reader for the daemon's life: it keeps each process's previous reading for CPU %. */
const usageReader = new UsageReader();

/** CPU % and RSS of running services (read from /proc now; a pid that just vanished gets zeros). */
function usageOf(services: Service[]): Map<number, Usage> {
  return usageReader.read(services.map((s) => s.row.pid).filter((pid) => pid !== 0));
}

/** The wire ServiceState; env values are left out unless withEnv (describe). */
function toWire(m: ServiceManager, s: Service, usage: Map<number, Usage>, withEnv: boolean) {
  const r = s.row;
  const c = r.config;
  const logs = m.logPaths(s);
  const u = usage.get(r.pid);
  return {
    name: r.name,
    id: r.id,
    status: r.status,
    pid: r.pid,
    restartCount: r.restartCount,
    lastStartedAt: r.lastStartedAt / 1000,
    lastExitedAt: r.lastExitedAt / 1000,
    lastExitCode: r.lastExitCode,
    config: {
      name: c.name, cmd: c.cmd, cwd: c.cwd, env: withEnv ? c.env : {}, autorestart: c.autorestart, maxRestarts: c.maxRestarts,
      restartDelayMs: c.restartDelayMs, killTimeoutMs: c.killTimeoutMs, minUptimeMs: c.minUptimeMs, dependsOn: c.dependsOn,
      logMaxBytes: c.logMaxBytes, logMaxFiles: c.logMaxFiles, environmentPolicy: c.environmentPolicy ?? 0,
      expBackoffRestartDelayMs: c.expBackoffRestartDelayMs, stopExitCodes: c.stopExitCodes, maxMemoryRestartBytes: c.maxMemoryRestartBytes,
      instances: c.instances, instanceVar: c.instanceVar, watch: c.watch, watchPaths: c.watchPaths, ignoreWatch: c.ignoreWatch,
      watchDelayMs: c.watchDelayMs, cronRestart: c.cronRestart, namespace: c.namespace, pidFile: c.pidFile, outFile: c.outFile,
      errorFile: c.errorFile, logFile: c.logFile, mergeLogs: c.mergeLogs, time: c.time, logDateFormat: c.logDateFormat,
      killSignal: c.killSignal, incrementVar: c.incrementVar, execMode: c.execMode, nodeArgsCount: c.nodeArgsCount,
      waitReady: c.waitReady, listenTimeoutMs: c.listenTimeoutMs, logType: c.logType,
    },
    outLogPath: logs.out,
    errLogPath: logs.err,
    cpuPercent: u?.cpu ?? 0,
    memoryBytes: u?.memory ?? 0,
    unstableRestarts: r.unstableRestarts,
    backoffMs: r.backoffMs,
    lastError: r.lastError,
    instanceIndex: r.instanceIndex,
    combinedLogPath: logs.combined,
    createdAt: r.createdAt / 1000,
    pidFilePath: s.pidFilePath,
  };
}

export const serviceEntries: DispatchEntry[] = [
  unary(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', async (req, ctx) => {
    const m = managerOf(ctx);
    if (!req.config) throw new InvalidArgumentError('service_start.config is required');
    const instances = await m.start(req.config, req.restartExisting === true, req.addInstances === true, req.renameFrom ?? '');
    const wire = instances.map((svc) => toWire(m, svc, new Map(), true));
    return { service: wire[0], instances: wire };
  }),

  unary(RequestType.REQUEST_TYPE_SERVICE_STOP, 'serviceStop', async (req, ctx) => ({ stoppedCount: await managerOf(ctx).stop(req.target) })),

  unary(RequestType.REQUEST_TYPE_SERVICE_RESTART, 'serviceRestart', async (req, ctx) => ({ restartedCount: await managerOf(ctx).restart(req.target, { reload: req.reload }) })),

  unary(RequestType.REQUEST_TYPE_SERVICE_DELETE, 'serviceDelete', async (req, ctx) => ({ deletedCount: await managerOf(ctx).delete(req.target) })),

  unary(RequestType.REQUEST_TYPE_SERVICE_RESET, 'serviceReset', async (req, ctx) => ({ resetCount: managerOf(ctx).reset(req.target) })),

  unary(RequestType.REQUEST_TYPE_SERVICE_SIGNAL, 'serviceSignal', async (req, ctx) => ({ signaledCount: managerOf(ctx).signal(req.target, req.signal) })),

  unary(RequestType.REQUEST_TYPE_SERVICE_LIST, 'serviceList', async (_req, ctx) => {
    const m = managerOf(ctx);
    const services = m.list();
    const usage = usageOf(services);
    return { services: services.map((s) => toWire(m, s, usage, false)) };
  }),

  unary(RequestType.REQUEST_TYPE_SERVICE_DESCRIBE, 'serviceDescribe', async (req, ctx) => {
    const m = managerOf(ctx);
    const svc = m.describe(req.target);
    return { service: toWire(m, svc, usageOf([svc]), true) };
  }),

  unary(RequestType.REQUEST_TYPE_SERVICE_SAVE, 'serviceSave', (_req, ctx) => {
    const { path, count } = managerOf(ctx).save();
    return { snapshotPath: path, serviceCount: count };
  }),

  unary(RequestType.REQUEST_TYPE_SERVICE_RESURRECT, 'serviceResurrect', async (_req, ctx) => {
    const { restored, started } = await managerOf(ctx).resurrect();
    return { restoredCount: restored, startedCount: started };
  }),
];
