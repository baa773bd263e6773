// Checking pm2's app options in a ServiceConfig (exp_backoff_restart_delay, stop_exit_codes,
// max_memory_restart, instances, watch, cron_restart, namespace, pid_file, log files, time,
// kill_signal, ...): each is refused with INVALID_ARGUMENT naming the field and the service, and
// paths are made absolute against the service's cwd (as pm2 resolves them).
import * as os from 'node:os';
import * as path from 'node:path';
import { Cron } from 'croner';
import { InvalidArgumentError } from '../wire/errors';
import { checkEnvKey, checkNoNul, quote } from '../sessions/spawn-checks';

/** Most copies of one app (pm2 has no limit; each is a process and a set of log files). */
export const MAX_INSTANCES = 256;
const MAX_DELAY_MS = 3_600_000;
const MAX_LIST_ENTRIES = 1024;
const MAX_TEXT = 4096;
const MAX_NAMESPACE_LENGTH = 64;

/** The checked options, as stored in ServiceConfigData. */
export interface Pm2Options {
  expBackoffRestartDelayMs: number;
  stopExitCodes: number[];
  maxMemoryRestartBytes: number;
  instances: number;
  instanceVar: string;
  watch: boolean;
  watchPaths: string[];
  ignoreWatch: string[];
  watchDelayMs: number;
  cronRestart: string;
  namespace: string;
  pidFile: string;
  outFile: string;
  errorFile: string;
  logFile: string;
  mergeLogs: boolean;
  time: boolean;
  logDateFormat: string;
  killSignal: string;
  incrementVar: string;
  /** 'cluster' (node cluster workers of runpmd, sharing ports) or '' (fork mode). */
  execMode: '' | 'cluster';
  /** In cluster mode, how many of cmd[1..] are node options before the script. */
  nodeArgsCount: number;
  /** Cluster mode: online once the app sends 'ready' (or listenTimeoutMs passed). */
  waitReady: boolean;
  /** The wait for 'ready' and, on reload, for the new worker to listen (0 = 3000 ms). */
  listenTimeoutMs: number;
  /** 'json': log lines written as pm2's JSON records; '' as printed. */
  logType: '' | 'json';
}

function uintField(value: unknown, field: string, max: number, where: string): number {
  const n = value === undefined || value === null ? 0 : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`${where}${field} must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function textField(value: unknown, field: string, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InvalidArgumentError(`${where}${field} must be a string, got ${JSON.stringify(value)}`);
  if (value.length > MAX_TEXT) throw new InvalidArgumentError(`${where}${field} is ${value.length} characters long, at most ${MAX_TEXT}`);
  checkNoNul(field, value, { where });
  return value;
}

function listField(value: unknown, field: string, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${where}${field} must be a list of strings, got ${JSON.stringify(value)}`);
  if (value.length > MAX_LIST_ENTRIES) throw new InvalidArgumentError(`${where}${field} has ${value.length} entries, at most ${MAX_LIST_ENTRIES}`);
  return value.map((v, i) => {
    const s = textField(v, `${field}[${i}]`, where);
    if (s === '') throw new InvalidArgumentError(`${where}${field}[${i}] is empty`);
    return s;
  });
}

/** A path option made absolute against cwd ("" stays ""). */
function pathField(value: unknown, field: string, cwd: string, where: string): string {
  const p = textField(value, field, where);
  return p === '' ? '' : path.resolve(cwd, p);
}

/** A log path: as pathField, and pm2's "NULL" means /dev/null (lib/Utility.js checkPathIsNull). */
function logPathField(value: unknown, field: string, cwd: string, where: string): string {
  return value === 'NULL' ? '/dev/null' : pathField(value, field, cwd, where);
}

function envNameField(value: unknown, field: string, where: string): string {
  const name = textField(value, field, where);
  if (name !== '') checkEnvKey(name, { where: `${where}${field}: ` });
  return name;
}

/** Checks a signal name ("SIGINT", "INT") or number; returns its SIG name. */
export function signalNameOf(value: string, field: string, where = ''): NodeJS.Signals {
  const signals = os.constants.signals as Record<string, number>;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    const name = Object.keys(signals).find((k) => signals[k] === n);
    if (name) return name as NodeJS.Signals;
  } else {
    const name = trimmed.toUpperCase().startsWith('SIG') ? trimmed.toUpperCase() : `SIG${trimmed.toUpperCase()}`;
    if (name in signals) return name as NodeJS.Signals;
  }
  throw new InvalidArgumentError(`${where}${field} ${quote(value)} is not a signal (expected a name such as SIGTERM or a number)`);
}

/** Throws naming the problem when `expr` is not a cron expression croner accepts (5 or 6 fields). */
export function checkCronExpression(expr: string, where = ''): void {
  try {
    new Cron(expr, { paused: true }).stop();
  } catch (err) {
    throw new InvalidArgumentError(`${where}cron_restart ${quote(expr)} is not a cron expression: ${(err as Error).message}`);
  }
}

/**
 * exec_mode: 'cluster' runs the script (cmd[1 + nodeArgsCount]) as a node cluster worker, so cmd[0]
 * must be a node binary and the script must come after the node options; 'fork' / '' is fork mode.
 */
function checkExecMode(c: Record<string, unknown>, where: string): Pick<Pm2Options, 'execMode' | 'nodeArgsCount' | 'waitReady' | 'listenTimeoutMs'> {
  const mode = textField(c.execMode, 'exec_mode', where).replace(/_mode$/, '');
  const listenTimeoutMs = uintField(c.listenTimeoutMs, 'listen_timeout_ms', MAX_DELAY_MS, where);
  const waitReady = c.waitReady === true;
  if (mode === '' || mode === 'fork') {
    if (waitReady) throw new InvalidArgumentError(`${where}wait_ready needs exec_mode "cluster": a fork-mode run has no IPC channel in runpm to send 'ready' on`);
    return { execMode: '', nodeArgsCount: 0, waitReady, listenTimeoutMs };
  }
  if (mode !== 'cluster') throw new InvalidArgumentError(`${where}exec_mode must be "fork" or "cluster", got ${quote(mode)}`);
  const cmd = Array.isArray(c.cmd) ? c.cmd.map(String) : [];
  const nodeArgsCount = uintField(c.nodeArgsCount, 'node_args_count', MAX_LIST_ENTRIES, where);
  if (cmd.length === 0 || !/(^|\/)(node|nodejs)$/.test(cmd[0])) {
    throw new InvalidArgumentError(`${where}exec_mode "cluster" runs node scripts only (pm2's cluster mode); cmd[0] is ${quote(cmd[0] ?? '')}, not node`);
  }
  if (cmd.length < 2 + nodeArgsCount) throw new InvalidArgumentError(`${where}exec_mode "cluster": cmd has no script after its ${nodeArgsCount} node options`);
  return { execMode: 'cluster', nodeArgsCount, waitReady, listenTimeoutMs };
}

function logTypeField(value: unknown, where: string): '' | 'json' {
  const t = textField(value, 'log_type', where);
  if (t === '' || t === 'json') return t;
  throw new InvalidArgumentError(`${where}log_type must be "json" (or empty for lines as printed), got ${quote(t)}`);
}

/** Checks every pm2 option of a config (`c` as from the wire, camelCase); `cwd` is the checked cwd. */
export function checkPm2Options(c: Record<string, unknown>, cwd: string, where: string): Pm2Options {
  const stopExitCodes: number[] = [];
  const rawCodes = c.stopExitCodes ?? [];
  if (!Array.isArray(rawCodes) || rawCodes.length > MAX_LIST_ENTRIES) throw new InvalidArgumentError(`${where}stop_exit_codes must be a list of at most ${MAX_LIST_ENTRIES} exit codes`);
  for (const code of rawCodes) {
    const n = Number(code);
    if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) throw new InvalidArgumentError(`${where}stop_exit_codes: ${JSON.stringify(code)} is not an exit code`);
    if (!stopExitCodes.includes(n)) stopExitCodes.push(n);
  }
  const namespace = textField(c.namespace, 'namespace', where);
  if (namespace.length > MAX_NAMESPACE_LENGTH || /\p{C}/u.test(namespace) || namespace.trim() !== namespace) {
    throw new InvalidArgumentError(`${where}namespace ${quote(namespace)} must be at most ${MAX_NAMESPACE_LENGTH} printable characters without surrounding whitespace`);
  }
  // pm2's `--cron-restart 0` (or "") turns cron restarts off.
  const cronText = textField(c.cronRestart, 'cron_restart', where).trim();
  const cronRestart = cronText === '0' ? '' : cronText;
  if (cronRestart !== '') checkCronExpression(cronRestart, where);
  const killSignal = textField(c.killSignal, 'kill_signal', where);
  const memory = c.maxMemoryRestartBytes === undefined || c.maxMemoryRestartBytes === null ? 0 : Number(c.maxMemoryRestartBytes);
  if (!Number.isSafeInteger(memory) || memory < 0) throw new InvalidArgumentError(`${where}max_memory_restart_bytes must be a byte count, got ${JSON.stringify(c.maxMemoryRestartBytes)}`);
  const instances = uintField(c.instances, 'instances', MAX_INSTANCES, where);
  return {
    expBackoffRestartDelayMs: uintField(c.expBackoffRestartDelayMs, 'exp_backoff_restart_delay_ms', MAX_DELAY_MS, where),
    stopExitCodes,
    maxMemoryRestartBytes: memory,
    instances,
    instanceVar: envNameField(c.instanceVar, 'instance_var', where),
    watch: c.watch === true,
    watchPaths: listField(c.watchPaths, 'watch_paths', where).map((p) => path.resolve(cwd, p)),
    ignoreWatch: listField(c.ignoreWatch, 'ignore_watch', where),
    watchDelayMs: uintField(c.watchDelayMs, 'watch_delay_ms', MAX_DELAY_MS, where),
    cronRestart,
    namespace,
    pidFile: pathField(c.pidFile, 'pid_file', cwd, where),
    outFile: logPathField(c.outFile, 'out_file', cwd, where),
    errorFile: logPathField(c.errorFile, 'error_file', cwd, where),
    logFile: logPathField(c.logFile, 'log_file', cwd, where),
    mergeLogs: c.mergeLogs === true,
    time: c.time === true,
    logDateFormat: textField(c.logDateFormat, 'log_date_format', where),
    killSignal: killSignal === '' ? '' : signalNameOf(killSignal, 'kill_signal', where),
    incrementVar: envNameField(c.incrementVar, 'increment_var', where),
    logType: logTypeField(c.logType, where),
    ...checkExecMode(c, where),
  };
}
