// runpmd: parses flags, takes the scope's lock and socket, starts subsystems, serves until
// SHUTDOWN or SIGTERM/SIGINT, then closes everything in reverse order and exits.
import * as fs from 'node:fs';
import { resolveScopePaths, checkSocketPathLength, ensurePrivateDir, ScopePathError, DEFAULT_SCOPE } from '../scope/paths';
import { claimPm2PidFile, pm2HomeOf } from '../scope/pm2-home';
import { restrictUmask, tightenModes } from '../scope/umask';
import { packageVersion } from '../version';
import { DEFAULTS, type DaemonConfig } from './config';
import { parseDaemonFlags, type DaemonFlags } from './flags';
import { openDaemonLog, type Logger } from './log';
import type { DaemonState } from './state';
import { DaemonServer, AlreadyRunningError } from './server';
import { acquireInstanceLock, releaseInstanceLock } from './instance-lock';
import { buildDispatchTable } from './dispatch';
import { allEntries } from './handlers';
import { startMetrics, startSubsystems } from './subsystems';
import { handleEnospc, startEmergencyReserve } from './emergency-reserve';
import { injectFault } from './fault-injection';
import { armCrashPoint } from './crash-points';
import { holdReserveFd } from './fd-budget';
import { EventBus } from '../events/event-bus';
import { readEnvFile } from './env-file';

const SIGNAL_SHUTDOWN_GRACE_MS = 5000;

/** Runs the daemon; resolves with the process exit code. */
export async function runDaemon(argv: string[]): Promise<number> {
  let opts: DaemonFlags;
  try {
    opts = parseDaemonFlags(argv);
  } catch (err) {
    // --help/--version exit 0; usage errors exit 2 (1 means "already running" to autostart).
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  // Before anything is created: the scope's files are the user's alone (children get the user's
  // umask back through withUserUmask).
  restrictUmask();
  let paths;
  let lock;
  try {
    paths = resolveScopePaths({ scope: opts.scope, home: opts.home, socket: opts.socket });
    checkSocketPathLength(paths.socketPath);
    ensurePrivateDir(paths.socketDir);
    ensurePrivateDir(paths.stateDir);
    tightenModes(paths.stateDir);
    ensurePrivateDir(paths.logsDir);
    lock = acquireInstanceLock(paths.lockPath, paths.socketPath);
  } catch (err) {
    if (err instanceof ScopePathError || err instanceof AlreadyRunningError) {
      process.stderr.write(`runpmd: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  let defaultEnv: Array<{ key: string; value: string }>;
  try {
    defaultEnv = [...(opts.envFrom as string[]).flatMap((f) => readEnvFile(f)), ...opts.env];
  } catch (err) {
    releaseInstanceLock(paths.lockPath);
    process.stderr.write(`runpmd: ${(err as Error).message}\n`);
    return 2;
  }
  const config: DaemonConfig = {
    paths,
    maxFrameBytes: opts.maxFrameBytes,
    maxConnections: opts.maxConnections,
    requestsPerSecond: opts.rateLimit,
    maxInFlightRequests: opts.maxInFlight,
    maxQueuedRequestBytes: DEFAULTS.maxQueuedRequestBytes,
    responseBudgetBytes: opts.responseBudgetBytes,
    partialFrameBudgetBytes: opts.partialFrameBudgetBytes,
    frameDeadlineMs: opts.frameDeadlineMs,
    ringBytes: opts.ringBytes,
    exitedRingBudgetBytes: opts.exitedRingBudget,
    keepExited: opts.keepExited,
    keepExitedMs: opts.keepExitedMs,
    reserveBytes: opts.reserveBytes,
    reserveRecheckMs: opts.reserveRecheckMs,
    reaperIntervalMs: opts.reaperIntervalMs,
    logMaxBytes: opts.logMaxBytes,
    logMaxFiles: opts.logMaxFiles,
    observerStallMs: opts.observerStallMs,
    attachStallTimeoutMs: opts.attachStallTimeoutMs,
    observerPollMs: opts.observerPollMs,
    defaultEnv,
    resurrect: opts.resurrect,
    metricsAddress: opts.metrics,
    debug: opts.debug,
  };
  // A daemon.log write that fails for lack of space releases the reserve (hooked up once state exists).
  let onLogWriteError: (err: unknown) => void = () => {};
  let log: Logger;
  try {
    log = openDaemonLog(paths.daemonLogPath, { quiet: opts.quiet, debug: opts.debug, onWriteError: (err) => onLogWriteError(err) });
  } catch (err) {
    // A daemon.log that is a symlink or another user's file: refused, said once, nothing written.
    releaseInstanceLock(paths.lockPath);
    process.stderr.write(`runpmd: ${(err as Error).message}\n`);
    return 1;
  }
  let pm2Pid: { release: () => void } | null = null;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const state: DaemonState = {
    config,
    log,
    version: packageVersion(),
    startedAtMs: Date.now(),
    cwd: process.cwd(),
    activeConnections: 0,
    trackedProcessCount: () => 0,
    emergencyReserve: 'degraded',
    subsystems: [],
    events: new EventBus(),
    metricSources: [],
    shuttingDown: false,
    requestShutdown: () => {},
    crashedPredecessorPid: lock.crashedPid,
  };
  onLogWriteError = (err) => handleEnospc(state, `a daemon.log write failed (${(err as Error).message})`, err);
  if (opts.crashAt) {
    try {
      armCrashPoint(opts.crashAt);
    } catch (err) {
      releaseInstanceLock(paths.lockPath);
      process.stderr.write(`runpmd: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const entries = opts.injectFault ? injectFault(allEntries(), opts.injectFault) : allEntries();
  const server = new DaemonServer(state, buildDispatchTable(entries));

  state.requestShutdown = ({ graceful, graceMs }) => {
    if (state.shuttingDown) return;
    state.shuttingDown = true;
    log.info(`shutting down (${graceful ? `graceful, ${graceMs} ms grace` : 'immediate'})`);
    void (async () => {
      server.stopListening();
      for (const sub of [...state.subsystems].reverse()) {
        try {
          await sub.close({ graceful, graceMs });
        } catch (err) {
          log.error(`closing ${sub.name} failed: ${(err as Error).message}`);
        }
      }
      server.dropConnections();
      pm2Pid?.release();
      releaseInstanceLock(paths.lockPath);
      log.info('stopped');
      log.close();
      resolveExit(0);
    })();
  };

  process.on('uncaughtException', (err) => log.error(`uncaught exception (daemon keeps serving): ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection (daemon keeps serving): ${(err as Error)?.stack ?? String(err)}`));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => state.requestShutdown({ graceful: true, graceMs: SIGNAL_SHUTDOWN_GRACE_MS }));
  }
  process.on('SIGPIPE', () => {});
  holdReserveFd();

  try {
    if (config.metricsAddress) await startMetrics(state, config.metricsAddress);
    await startSubsystems(state);
    await server.listen();
  } catch (err) {
    releaseInstanceLock(paths.lockPath);
    const message = err instanceof AlreadyRunningError ? err.message : `failed to start: ${(err as Error).stack ?? err}`;
    log.error(message);
    log.close();
    process.stderr.write(`runpmd: ${message}\n`);
    for (const sub of [...state.subsystems].reverse()) await sub.close({ graceful: false, graceMs: 0 }).catch(() => {});
    return 1;
  }
  log.info(`runpmd ${state.version} listening on ${paths.socketPath} (scope ${paths.scope}, pid ${process.pid})`);
  if (paths.scope === DEFAULT_SCOPE) {
    // pm2's pid file, for scripts written for pm2 (`kill $(cat ~/.pm2/pm2.pid)`).
    const claim = claimPm2PidFile(pm2HomeOf());
    if ('release' in claim) pm2Pid = claim;
    else log.info(`pm2.pid not written: ${claim.skipped}`);
  }
  startEmergencyReserve(state);
  return exited;
}
