// runpmd's flags. The usual start (valid flags, no --help/--version) is parsed with node:util's
// parseArgs; commander, the help text and its error messages load only for --help, --version or a
// flag that does not parse (loading commander cost an idle daemon about 1 MB of RSS). Both paths
// accept the same flags and produce the same options. Runs once per daemon start.
import type { Command } from 'commander';
import { parseArgs } from 'node:util';
import { packageVersion } from '../version';
import { DEFAULTS } from './config';

/** The parsed flags (commander's opts() shape). */
export interface DaemonFlags {
  scope?: string;
  home?: string;
  socket?: string;
  maxFrameBytes: number;
  maxConnections: number;
  rateLimit: number;
  ringBytes: number;
  exitedRingBudget: number;
  keepExited: number;
  keepExitedMs: number;
  reserveBytes: number;
  reserveRecheckMs: number;
  reaperIntervalMs: number;
  logMaxBytes: number;
  logMaxFiles: number;
  maxInFlight: number;
  responseBudgetBytes: number;
  partialFrameBudgetBytes: number;
  frameDeadlineMs: number;
  observerStallMs: number;
  attachStallTimeoutMs: number;
  observerPollMs: number;
  env: Array<{ key: string; value: string }>;
  envFrom: string[];
  resurrect: boolean;
  metrics: string;
  quiet: boolean;
  debug: boolean;
  injectFault?: string;
  crashAt?: string;
}

/** Integer flags: option key, flag, minimum, default. */
const INT_FLAGS = [
  ['maxFrameBytes', '--max-frame-bytes', 16, DEFAULTS.maxFrameBytes],
  ['maxConnections', '--max-connections', 1, DEFAULTS.maxConnections],
  ['rateLimit', '--rate-limit', 1, DEFAULTS.requestsPerSecond],
  ['ringBytes', '--ring-bytes', 1024, DEFAULTS.ringBytes],
  ['exitedRingBudget', '--exited-ring-budget', 0, DEFAULTS.exitedRingBudgetBytes],
  ['keepExited', '--keep-exited', 1, DEFAULTS.keepExited],
  ['keepExitedMs', '--keep-exited-ms', 1000, DEFAULTS.keepExitedMs],
  ['reserveBytes', '--reserve-bytes', 0, DEFAULTS.reserveBytes],
  ['reserveRecheckMs', '--reserve-recheck-ms', 0, DEFAULTS.reserveRecheckMs],
  ['reaperIntervalMs', '--reaper-interval-ms', 0, DEFAULTS.reaperIntervalMs],
  ['logMaxBytes', '--log-max-bytes', 1024, DEFAULTS.logMaxBytes],
  ['logMaxFiles', '--log-max-files', 0, DEFAULTS.logMaxFiles],
  ['maxInFlight', '--max-in-flight', 1, DEFAULTS.maxInFlightRequests],
  ['responseBudgetBytes', '--response-budget-bytes', 1, DEFAULTS.responseBudgetBytes],
  ['partialFrameBudgetBytes', '--partial-frame-budget-bytes', 1, DEFAULTS.partialFrameBudgetBytes],
  ['frameDeadlineMs', '--frame-deadline-ms', 1, DEFAULTS.frameDeadlineMs],
  ['observerStallMs', '--observer-stall-ms', 0, DEFAULTS.observerStallMs],
  ['attachStallTimeoutMs', '--attach-stall-timeout-ms', 1, DEFAULTS.attachStallTimeoutMs],
  ['observerPollMs', '--observer-poll-ms', 10, DEFAULTS.observerPollMs],
] as const;

function intValue(name: string, min: number, value: string): number | null {
  const n = Number(value);
  return Number.isInteger(n) && n >= min ? n : null;
}

function envValue(value: string): { key: string; value: string } | null {
  const eq = value.indexOf('=');
  return eq <= 0 ? null : { key: value.slice(0, eq), value: value.slice(eq + 1) };
}

/**
 * Parses runpmd's argv. Throws like commander's exitOverride() does (an error with exitCode) for
 * --help/--version (exitCode 0, output already written) and for usage errors (non-zero exitCode).
 */
export function parseDaemonFlags(argv: string[]): DaemonFlags {
  return fastParse(argv) ?? commanderParse(argv);
}

/** The common case without commander; null whenever commander must answer (help, version, errors). */
function fastParse(argv: string[]): DaemonFlags | null {
  const str = { type: 'string' } as const;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scope: str, home: str, socket: str, metrics: str, 'inject-fault': str, 'crash-at': str,
        env: { type: 'string', multiple: true }, 'env-from': { type: 'string', multiple: true },
        resurrect: { type: 'boolean' }, quiet: { type: 'boolean' }, debug: { type: 'boolean' },
        ...Object.fromEntries(INT_FLAGS.map(([, flag]) => [flag.slice(2), str])),
      },
    });
  } catch {
    return null;
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const flags: DaemonFlags = {
    scope: v.scope as string | undefined,
    home: v.home as string | undefined,
    socket: v.socket as string | undefined,
    maxInFlight: 0, responseBudgetBytes: 0, partialFrameBudgetBytes: 0, frameDeadlineMs: 0,
    maxFrameBytes: 0, maxConnections: 0, rateLimit: 0, ringBytes: 0, exitedRingBudget: 0, keepExited: 0, keepExitedMs: 0, reserveBytes: 0,
    reserveRecheckMs: 0, reaperIntervalMs: 0, logMaxBytes: 0, logMaxFiles: 0, observerStallMs: 0, attachStallTimeoutMs: 0, observerPollMs: 0,
    env: [],
    envFrom: (v['env-from'] as string[] | undefined) ?? [],
    resurrect: v.resurrect === true,
    metrics: (v.metrics as string | undefined) ?? '',
    quiet: v.quiet === true,
    debug: v.debug === true,
    ...(v['inject-fault'] !== undefined ? { injectFault: v['inject-fault'] as string } : {}),
    ...(v['crash-at'] !== undefined ? { crashAt: v['crash-at'] as string } : {}),
  };
  for (const [key, flag, min, def] of INT_FLAGS) {
    const raw = v[flag.slice(2)] as string | undefined;
    const n = raw === undefined ? def : intValue(flag, min, raw);
    if (n === null) return null;
    flags[key] = n;
  }
  for (const e of (v.env as string[] | undefined) ?? []) {
    const kv = envValue(e);
    if (!kv) return null;
    flags.env.push(kv);
  }
  return flags;
}

/** The full commander program: help, version and the error messages users see. */
function commanderParse(argv: string[]): DaemonFlags {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Command: CommandClass, Option, InvalidArgumentError } = require('commander') as typeof import('commander');
  const intOption = (name: string, min: number) => (value: string): number => {
    const n = intValue(name, min, value);
    if (n === null) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
  const envEntry = (value: string, previous: Array<{ key: string; value: string }>) => {
    const kv = envValue(value);
    if (!kv) throw new InvalidArgumentError(`--env expects KEY=VALUE, got ${JSON.stringify(value)}`);
    return [...previous, kv];
  };
  const program: Command = new CommandClass('runpmd')
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
    .option('--keep-exited <n>', 'exited sessions kept (the newest; older ones are forgotten)', intOption('--keep-exited', 1), DEFAULTS.keepExited)
    .option('--keep-exited-ms <n>', 'how long an exited session is kept', intOption('--keep-exited-ms', 1000), DEFAULTS.keepExitedMs)
    .option('--reserve-bytes <n>', 'emergency reserve size (0 disables)', intOption('--reserve-bytes', 0), DEFAULTS.reserveBytes)
    .option('--reserve-recheck-ms <n>', 'how often a released reserve is re-armed when space is back (0 disables)', intOption('--reserve-recheck-ms', 0), DEFAULTS.reserveRecheckMs)
    .option('--reaper-interval-ms <n>', 'zombie reaper period (0 disables)', intOption('--reaper-interval-ms', 0), DEFAULTS.reaperIntervalMs)
    .option('--log-max-bytes <n>', 'service log rotation size', intOption('--log-max-bytes', 1024), DEFAULTS.logMaxBytes)
    .option('--log-max-files <n>', 'rotated service logs kept', intOption('--log-max-files', 0), DEFAULTS.logMaxFiles)
    .option('--max-in-flight <n>', 'requests read but not yet answered, per connection', intOption('--max-in-flight', 1), DEFAULTS.maxInFlightRequests)
    .option('--response-budget-bytes <n>', 'unsent response bytes per connection before it is no longer read', intOption('--response-budget-bytes', 1), DEFAULTS.responseBudgetBytes)
    .option('--partial-frame-budget-bytes <n>', 'bytes of incomplete frames all connections may hold together', intOption('--partial-frame-budget-bytes', 1), DEFAULTS.partialFrameBudgetBytes)
    .option('--frame-deadline-ms <n>', 'a connection holding an incomplete frame this long is closed', intOption('--frame-deadline-ms', 1), DEFAULTS.frameDeadlineMs)
    .option('--observer-stall-ms <n>', 'a BLOCK session observer whose full queue nobody reads is cut loose after this (0 = never)', intOption('--observer-stall-ms', 0), DEFAULTS.observerStallMs)
    .option('--attach-stall-timeout-ms <n>', 'an attached reader that holds its session back and reads nothing for this long is switched to drop-oldest', intOption('--attach-stall-timeout-ms', 1), DEFAULTS.attachStallTimeoutMs)
    .option('--observer-poll-ms <n>', 'how often PROCESS session observers look for descendants', intOption('--observer-poll-ms', 10), DEFAULTS.observerPollMs)
    .option('--env <KEY=VALUE>', 'default environment for every session and service (repeatable; visible in ps: prefer --env-from for secrets)', envEntry, [])
    .option('--env-from <file>', 'KEY=VALUE lines added to the default environment before --env (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--resurrect', 'restore the saved services at start', false)
    .option('--metrics <host:port>', 'serve Prometheus metrics (off unless given)', '')
    .option('--quiet', 'log to daemon.log only', false)
    .option('--debug', 'log debug lines', false)
    .addOption(new Option('--inject-fault <type>', 'test only: make this request type\'s handler throw').hideHelp())
    .addOption(new Option('--crash-at <point>', 'test only: SIGKILL the daemon at this named point (POINT[:N])').hideHelp())
    .exitOverride();
  program.parse(argv, { from: 'user' });
  return program.opts() as DaemonFlags;
}
