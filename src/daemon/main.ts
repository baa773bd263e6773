// runpmd: parses flags, takes the scope's lock and socket, starts subsystems, serves until
// SHUTDOWN or SIGTERM/SIGINT, then closes everything in reverse order and exits.
import * as fs from 'node:fs';
import { Command, Option, InvalidArgumentError as CommanderArgError } from 'commander';
import { resolveScopePaths, checkSocketPathLength, ensurePrivateDir, ScopePathError } from '../scope/paths';
import { restrictUmask, tightenModes } from '../scope/umask';
import { packageVersion } from '../version';
import { DEFAULTS, type DaemonConfig } from './config';
import { openDaemonLog } from './log';
import type { DaemonState } from './state';
import { DaemonServer, AlreadyRunningError } from './server';
import { acquireInstanceLock, releaseInstanceLock } from './instance-lock';
import { buildDispatchTable } from './dispatch';
import { allEntries } from './handlers';
import { startSubsystems } from './subsystems';
import { handleEnospc, startEmergencyReserve } from './emergency-reserve';
import { injectFault } from './fault-injection';
import { EventBus } from '../events/event-bus';
import { readEnvFile } from './env-file';

const SIGNAL_SHUTDOWN_GRACE_MS = 5000;

function intOption(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new CommanderArgError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
}

function envEntry(value: string, previous: Array<{ key: string; value: string }>) {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new CommanderArgError(`--env expects KEY=VALUE, got ${JSON.stringify(value)}`);
  return [...previous, { key: value.slice(0, eq), value: value.slice(eq + 1) }];
}

function parseArgs(argv: string[]) {
  const program = new Command('runpmd')
    .description('running-process daemon: sessions, tees, registry and services for one scope')
    .version(packageVersion())
    .option('--scope <name>', 'scope name ([A-Za-z0-9._-]{1,64})')
    .option('--home <dir>', 'keep everything of the scope in DIR/<scope>/ (default: $RUNPM_HOME)')
    .option('--socket <path>', 'socket path override')
    .option('--max-frame-bytes <n>', 'largest request frame', intOption('--max-frame-bytes', 16), DEFAULTS.maxFrameBytes)
    .option('--max-connections <n>', 'concurrent connections', intOption('--max-connections', 1), DEFAULTS.maxConnections)
    .option('--rate-limit <n>', 'requests per second per connection', intOption('--rate-limit', 1), DEFAULTS.requestsPerSecond)
    .option('--ring-bytes <n>', 'ring capacity per session stream', intOption('--ring-bytes', 1024), DEFAULTS.ringBytes)
    .option('--exited-ring-budget <n>', 'ring bytes kept for exited sessions', intOption('--exited-ring-budget', 0), DEFAULTS.exitedRingBudgetBytes)
    .option('--reserve-bytes <n>', 'emergency reserve size (0 disables)', intOption('--reserve-bytes', 0), DEFAULTS.reserveBytes)
    .option('--reserve-recheck-ms <n>', 'how often a released reserve is re-armed when space is back (0 disables)', intOption('--reserve-recheck-ms', 0), DEFAULTS.reserveRecheckMs)
    .option('--reaper-interval-ms <n>', 'zombie reaper period (0 disables)', intOption('--reaper-interval-ms', 0), DEFAULTS.reaperIntervalMs)
    .option('--log-max-bytes <n>', 'service log rotation size', intOption('--log-max-bytes', 1024), DEFAULTS.logMaxBytes)
    .option('--log-max-files <n>', 'rotated service logs kept', intOption('--log-max-files', 0), DEFAULTS.logMaxFiles)
    .option('--env <KEY=VALUE>', 'default environment for every session and service (repeatable; visible in ps: prefer --env-from for secrets)', envEntry, [])
    .option('--env-from <file>', 'KEY=VALUE lines added to the default environment before --env (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--resurrect', 'restore the saved services at start', false)
    .option('--metrics <host:port>', 'serve Prometheus metrics (off unless given)', '')
    .option('--quiet', 'log to daemon.log only', false)
    .option('--debug', 'log debug lines', false)
    .addOption(new Option('--inject-fault <type>', 'test only: make this request type\'s handler throw').hideHelp())
    .exitOverride();
  program.parse(argv, { from: 'user' });
  return program.opts();
}

/** Runs the daemon; resolves with the process exit code. */
export async function runDaemon(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    // --help/--version exit 0; usage errors exit 2 (1 means "already running" to autostart).
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  // Before anything is created: the scope's files are the user's alone (children get the user's
  // umask back through withUserUmask).
  restrictUmask();
  let paths;
  try {
    paths = resolveScopePaths({ scope: opts.scope, home: opts.home, socket: opts.socket });
    checkSocketPathLength(paths.socketPath);
    ensurePrivateDir(paths.socketDir);
    ensurePrivateDir(paths.stateDir);
    tightenModes(paths.stateDir);
    fs.mkdirSync(paths.logsDir, { recursive: true, mode: 0o700 });
    acquireInstanceLock(paths.lockPath, paths.socketPath);
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
    ringBytes: opts.ringBytes,
    exitedRingBudgetBytes: opts.exitedRingBudget,
    reserveBytes: opts.reserveBytes,
    reserveRecheckMs: opts.reserveRecheckMs,
    reaperIntervalMs: opts.reaperIntervalMs,
    logMaxBytes: opts.logMaxBytes,
    logMaxFiles: opts.logMaxFiles,
    defaultEnv,
    resurrect: opts.resurrect,
    metricsAddress: opts.metrics,
    debug: opts.debug,
  };
  // A daemon.log write that fails for lack of space releases the reserve (hooked up once state exists).
  let onLogWriteError: (err: unknown) => void = () => {};
  const log = openDaemonLog(paths.daemonLogPath, { quiet: opts.quiet, debug: opts.debug, onWriteError: (err) => onLogWriteError(err) });
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
  };
  onLogWriteError = (err) => handleEnospc(state, `a daemon.log write failed (${(err as Error).message})`, err);
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

  try {
    if (config.metricsAddress) {
      const { DaemonMetrics } = require('../metrics/metrics') as typeof import('../metrics/metrics');
      const metrics = new DaemonMetrics(state);
      await metrics.listen(config.metricsAddress);
      state.metrics = metrics;
      state.subsystems.push({ name: 'metrics', close: () => metrics.close() });
    }
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
  startEmergencyReserve(state);
  return exited;
}
