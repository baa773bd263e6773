// A service's configuration: checking a ServiceConfig from the wire (or a snapshot) and the
// effective values its zeros stand for. Configs are plain JSON-able objects, stored as given.
import * as path from 'node:path';
import { InvalidArgumentError } from '../wire/errors';
import { checkArgv, checkCwd, checkEnvEntries, checkNoNul } from '../sessions/spawn-checks';
import { environmentPolicyOf } from '../sessions/spawn-env';
import { checkPm2Options, type Pm2Options } from './pm2-options';

/** Longest service name, in UTF-16 code units. */
export const MAX_SERVICE_NAME_LENGTH = 64;
/** pm2's kill_timeout default: the stop signal, then SIGKILL 1.6 s later. */
export const DEFAULT_KILL_TIMEOUT_MS = 1600;
const MAX_KILL_TIMEOUT_MS = 600_000;
const MAX_RESTART_DELAY_MS = 3_600_000;
const MAX_MIN_UPTIME_MS = 86_400_000;
const MIN_LOG_MAX_BYTES = 1024;
const MAX_LOG_MAX_FILES = 100;
const MAX_CMD_ARGS = 4096;
const MAX_ENV_ENTRIES = 4096;

/** The stored form of a service's config (the wire ServiceConfig, zeros meaning "default"); pm2's
 * other app options (proto ServiceConfig 1050-1059, 1140-1149) are checked in pm2-options.ts. */
export interface ServiceConfigData extends Pm2Options {
  name: string;
  cmd: string[];
  cwd: string;
  env: Record<string, string>;
  autorestart: boolean;
  maxRestarts: number;
  restartDelayMs: number;
  killTimeoutMs: number;
  minUptimeMs: number;
  dependsOn: string[];
  logMaxBytes: number;
  logMaxFiles: number;
  /** EnvironmentPolicy of every run (0 = INHERIT); absent in configs saved before it existed. */
  environmentPolicy?: number;
}

/** The pm2 options' values when not given (also filled into configs stored before they existed). */
export const PM2_OPTION_DEFAULTS = {
  expBackoffRestartDelayMs: 0, stopExitCodes: [] as number[], maxMemoryRestartBytes: 0, instances: 0, instanceVar: '',
  watch: false, watchPaths: [] as string[], ignoreWatch: [] as string[], watchDelayMs: 0, cronRestart: '', namespace: '',
  pidFile: '', outFile: '', errorFile: '', logFile: '', mergeLogs: false, time: false, logDateFormat: '', killSignal: '', incrementVar: '',
  execMode: '', nodeArgsCount: 0, waitReady: false, listenTimeoutMs: 0, logType: '',
} satisfies Pm2Options;

/** A config as stored (possibly before some options existed) with every option present. */
export function withOptionDefaults(stored: ServiceConfigData): ServiceConfigData {
  return { ...PM2_OPTION_DEFAULTS, ...stored, stopExitCodes: [...(stored.stopExitCodes ?? [])], watchPaths: [...(stored.watchPaths ?? [])], ignoreWatch: [...(stored.ignoreWatch ?? [])] };
}

/** Daemon-wide defaults a config's zeros fall back to. */
export interface ServiceDefaults {
  cwd: string;
  logMaxBytes: number;
  logMaxFiles: number;
}

function uint(value: unknown, field: string, max: number): number {
  const n = value === undefined || value === null ? 0 : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new InvalidArgumentError(`${field} must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Why `name` cannot be a service name, or null when it can: 1-64 printable characters (no control
 * or format characters, no '/'), not starting with '-' (it would read as an option), not '.' or
 * '..', no surrounding whitespace, and not 'all' (the target meaning every service).
 */
export function serviceNameProblem(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_SERVICE_NAME_LENGTH) return `it is ${name.length} characters long, at most ${MAX_SERVICE_NAME_LENGTH}`;
  if (/\p{C}/u.test(name)) return 'it holds a control or non-printable character';
  if (name.includes('/')) return "it holds '/'";
  if (name.startsWith('-')) return "it starts with '-' (it would read as an option)";
  if (name === '.' || name === '..') return `'${name}' names a directory`;
  if (name.trim() !== name) return 'it starts or ends with whitespace';
  if (name === 'all') return "'all' is the target meaning every service";
  return null;
}

/** Checks a service name; throws INVALID_ARGUMENT naming it and the rule it breaks. */
export function checkServiceName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`invalid service ${field} ${JSON.stringify(name)}: expected a string`);
  const problem = serviceNameProblem(name);
  if (problem) throw new InvalidArgumentError(`invalid service ${field} ${JSON.stringify(name)}: ${problem}`);
  return name;
}

/** Checks a config from the wire or a snapshot and returns its stored form; throws INVALID_ARGUMENT. */
export function checkServiceConfig(input: unknown, defaults: ServiceDefaults): ServiceConfigData {
  if (!input || typeof input !== 'object') throw new InvalidArgumentError('config is required');
  const c = input as Record<string, unknown>;
  const name = checkServiceName(c.name);
  const cmd = Array.isArray(c.cmd) ? c.cmd : [];
  if (cmd.length === 0) throw new InvalidArgumentError(`service '${name}': cmd must be a non-empty argv`);
  if (cmd.length > MAX_CMD_ARGS) throw new InvalidArgumentError(`service '${name}': cmd has ${cmd.length} arguments, at most ${MAX_CMD_ARGS}`);
  const where = `service '${name}': `;
  checkArgv(cmd, { where, field: 'cmd' });
  let cwd = typeof c.cwd === 'string' ? c.cwd : '';
  if (cwd === '') cwd = defaults.cwd;
  checkNoNul('cwd', cwd, { where });
  if (!path.isAbsolute(cwd)) throw new InvalidArgumentError(`service '${name}': cwd ${JSON.stringify(cwd)} must be an absolute path`);
  checkCwd(cwd, { where });
  const env: Record<string, string> = {};
  const rawEnv = c.env && typeof c.env === 'object' ? Object.entries(c.env as Record<string, unknown>) : [];
  if (rawEnv.length > MAX_ENV_ENTRIES) throw new InvalidArgumentError(`service '${name}': env has ${rawEnv.length} entries, at most ${MAX_ENV_ENTRIES}`);
  for (const [key, value] of rawEnv) {
    if (typeof value !== 'string') throw new InvalidArgumentError(`${where}env ${JSON.stringify(key)} must be a string, got ${JSON.stringify(value)}`);
    env[key] = value;
  }
  checkEnvEntries(Object.entries(env).map(([key, value]) => ({ key, value })), { where });
  const policyValue = c.environmentPolicy === undefined || c.environmentPolicy === null ? 0 : Number(c.environmentPolicy);
  environmentPolicyOf(policyValue, false, { where });
  const dependsOn: string[] = [];
  for (const dep of Array.isArray(c.dependsOn) ? c.dependsOn : []) {
    checkServiceName(dep, 'in depends_on');
    if (dep === name) throw new InvalidArgumentError(`dependency cycle: ${name} -> ${name}`);
    if (!dependsOn.includes(dep)) dependsOn.push(dep);
  }
  const logMaxBytes = uint(c.logMaxBytes, 'log_max_bytes', Number.MAX_SAFE_INTEGER);
  if (logMaxBytes !== 0 && logMaxBytes < MIN_LOG_MAX_BYTES) {
    throw new InvalidArgumentError(`service '${name}': log_max_bytes must be 0 (daemon default) or at least ${MIN_LOG_MAX_BYTES}, got ${logMaxBytes}`);
  }
  return {
    name,
    cmd: cmd as string[],
    cwd,
    env,
    autorestart: c.autorestart === true,
    maxRestarts: uint(c.maxRestarts, 'max_restarts', 0xffffffff),
    restartDelayMs: uint(c.restartDelayMs, 'restart_delay_ms', MAX_RESTART_DELAY_MS),
    killTimeoutMs: uint(c.killTimeoutMs, 'kill_timeout_ms', MAX_KILL_TIMEOUT_MS),
    minUptimeMs: uint(c.minUptimeMs, 'min_uptime_ms', MAX_MIN_UPTIME_MS),
    dependsOn,
    logMaxBytes,
    logMaxFiles: uint(c.logMaxFiles, 'log_max_files', MAX_LOG_MAX_FILES),
    environmentPolicy: policyValue,
    ...checkPm2Options(c, cwd, where),
  };
}

/** Kill grace in effect (0 → 1600 ms, as pm2). */
export function killTimeoutOf(c: ServiceConfigData): number {
  return c.killTimeoutMs || DEFAULT_KILL_TIMEOUT_MS;
}

/** The first stop signal (kill_signal; "" → SIGINT, as pm2). */
export function killSignalOf(c: ServiceConfigData): NodeJS.Signals {
  return (c.killSignal || 'SIGINT') as NodeJS.Signals;
}
