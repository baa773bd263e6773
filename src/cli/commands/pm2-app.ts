// One pm2 app (an ecosystem entry, or the flags of `runpm start SCRIPT`, which are turned into the
// same keys first, as pm2 does) → the ServiceConfig runpm starts. Keys mean what they mean in pm2
// (pm2-keys.ts says which are refused and why); the caller's environment is the app's base, as pm2
// passes the shell's environment; `--env NAME` applies env_NAME (and deploy.NAME.env).
import * as os from 'node:os';
import * as path from 'node:path';
import type { ServiceConfigInput } from '../../client/services-api';
import { pb } from '../../wire/proto';
import { pm2KeyHandling } from './pm2-keys';
import { planScript, runsPython, whichSync, type ScriptPlan } from './pm2-interpreter';
import { resolveServeScript } from './pm2-serve';

/** What an app's keys are read against. */
export interface AppContext {
  /** Relative script and cwd paths are resolved here (the ecosystem file's directory, or the caller's cwd). */
  baseDir: string;
  /** Prefix of messages ("ecosystem.config.js: app 0 (api)"). */
  where: string;
  warn(message: string): void;
  /** --env NAME: env_NAME applies over env. */
  envName?: string;
  /** deploy.NAME.env of the file, applied over env_NAME (pm2 does so for --env NAME). */
  deployEnv?: Record<string, unknown>;
  /** The environment the app starts with (pm2 passes the shell's). */
  callerEnv: NodeJS.ProcessEnv;
}

/** An app ready to start: its config and what the start command needs to know about it. */
export interface PlannedApp {
  config: ServiceConfigInput;
  /** force: start another copy even when one runs (pm2 -f). */
  force: boolean;
  plan: ScriptPlan;
}

/** Variables the daemon sets on every run itself: never copied from the caller. */
const DAEMON_MARKS = /^(RUNPM_SESSION_|RUNPM_SERVICE_|RUNNING_PROCESS_ORIGINATOR$)/;

/** pm2 stores every env value as a string (objects as JSON). */
function envValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function envObject(value: unknown, key: string, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: ${key} must be an object of variables, got ${JSON.stringify(value)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = envValue(v);
  return out;
}

/** Splits an args string like a shell would for plain words and quotes (no expansion). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  return out;
}

function words(value: unknown, key: string, where: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return splitArgs(value);
  if (typeof value === 'number') return [String(value)];
  throw new Error(`${where}: ${key} must be a string or a list, got ${JSON.stringify(value)}`);
}

function pick(app: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (app[k] !== undefined) return app[k];
  return undefined;
}

/** "2000", 2000, "2s", "1.5m", "500ms" → milliseconds. */
export function durationMs(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(String(value).trim());
  if (!m) throw new Error(`${where}: ${key} must be milliseconds or a duration like "2s", got ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!);
}

/** "200M", "1G", "512K", "1.5GB", 1048576 → bytes (pm2's max_memory_restart). */
export function memoryBytes(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.round(value);
  const m = /^(\d+(?:\.\d+)?)\s*([KMG])?B?$/i.exec(String(value).trim());
  if (!m) throw new Error(`${where}: ${key} must be bytes or a size like "200M" or "1G", got ${JSON.stringify(value)}`);
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? '').toUpperCase() as 'K' | 'M' | 'G'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/**
 * instances: a count, or "max" / 0 / -1 (all CPUs, all but one) as pm2; not given → 0 (one
 * process, and as pm2 its log files get no "-<id>" suffix, which any given count brings).
 */
export function instanceCount(value: unknown, where: string): number {
  if (value === undefined || value === null || value === '') return 0;
  const cpus = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  if (value === 'max') return cpus;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`${where}: instances must be a number or "max", got ${JSON.stringify(value)}`);
  if (n === 0) return cpus;
  if (n < 0) return Math.max(1, cpus + n);
  return n;
}

function bool(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  return value !== false && value !== 'false' && value !== 0;
}

function num(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${where}: ${key} must be a non-negative number, got ${JSON.stringify(value)}`);
  return n;
}

/** A log path key: pm2 reads NULL (any case) as /dev/null. */
function logPath(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  const p = String(value);
  return /^null$/i.test(p) ? '/dev/null' : p;
}

/** The caller's environment, minus what filter_env drops (true: everything; a prefix or list of prefixes). */
function baseEnv(callerEnv: NodeJS.ProcessEnv, filter: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (filter === true || filter === 'true') return out;
  const prefixes = filter === undefined || filter === null || filter === false ? [] : Array.isArray(filter) ? filter.map(String) : [String(filter)];
  for (const [k, v] of Object.entries(callerEnv)) {
    if (v === undefined || DAEMON_MARKS.test(k)) continue;
    if (prefixes.some((p) => k.startsWith(p))) continue;
    out[k] = v;
  }
  return out;
}

/** The script (or command line) an app runs: script / exec / cmd, a file or a command in PATH. */
function planOf(app: Record<string, unknown>, cwd: string, ctx: AppContext): ScriptPlan {
  const raw = pick(app, 'script', 'exec', 'cmd');
  const where = ctx.where;
  if (raw === undefined || raw === null || raw === '') throw new Error(`${where}: needs 'script' (or 'cmd')`);
  const args = words(app.args, 'args', where);
  const interpreter = pick(app, 'interpreter', 'exec_interpreter');
  const interpreterArgs = words(pick(app, 'interpreter_args', 'interpreterArgs'), 'interpreter_args', where);
  const nodeArgs = words(app.node_args, 'node_args', where);
  if (Array.isArray(raw)) {
    // runpm's own form: cmd as an argv, run as given.
    const argv = raw.map(String);
    if (argv.length === 0) throw new Error(`${where}: cmd is an empty list`);
    return { interpreter: 'none', interpreterArgs: [], execPath: argv[0], args: [...argv.slice(1), ...args], argv: [...argv, ...args] };
  }
  const script = String(raw);
  const opts = { interpreter: interpreter === undefined ? undefined : String(interpreter), interpreterArgs, nodeArgs };
  try {
    return planScript(script, args, cwd, opts);
  } catch (err) {
    // A command line with spaces ("node -e '...'") that names no file: its first word runs, found in PATH.
    if (!/\s/.test(script.trim())) throw err;
    const argv = splitArgs(script);
    const found = whichSync(argv[0]);
    if (!found) throw new Error(`${where}: cannot run ${JSON.stringify(script)}: no command ${argv[0]} in PATH`);
    return { interpreter: 'none', interpreterArgs: [], execPath: found, args: [...argv.slice(1), ...args], argv: [found, ...argv.slice(1), ...args] };
  }
}

/**
 * pm2's exec mode (Common.determineExecMode): exec_mode as given ('cluster' / 'cluster_mode',
 * 'fork' / 'fork_mode'); without it, a node app given `instances` (any count) runs in cluster
 * mode, anything else in fork mode. Cluster mode is node's: another interpreter runs forked.
 */
function execModeOf(app: Record<string, unknown>, plan: ScriptPlan, ctx: AppContext): '' | 'cluster' {
  const given = app.exec_mode === undefined || app.exec_mode === null ? '' : String(app.exec_mode);
  if (given !== '' && !/^(fork|cluster)(_mode)?$/.test(given)) throw new Error(`${ctx.where}: exec_mode must be 'fork' or 'cluster', got ${JSON.stringify(given)}`);
  const isNode = /(^|\/)(node|nodejs)$/.test(plan.interpreter);
  if (given.startsWith('cluster')) {
    if (isNode) return 'cluster';
    ctx.warn(`${ctx.where}: exec_mode '${given}' is node's cluster mode; ${plan.interpreter === 'none' ? plan.execPath : plan.interpreter} is not node, so its instances run in fork mode (each its own process)`);
    return '';
  }
  const instancesGiven = app.instances !== undefined && app.instances !== null && app.instances !== '';
  return given === '' && instancesGiven && isNode ? 'cluster' : '';
}

/** wait_ready: runpm's cluster workers have the IPC channel 'ready' is sent on; its fork-mode runs do not. */
function waitReadyOf(app: Record<string, unknown>, execMode: '' | 'cluster', ctx: AppContext): boolean {
  const on = bool(app.wait_ready) === true;
  if (on && execMode !== 'cluster') throw new Error(`${ctx.where}: wait_ready needs cluster mode in runpm (exec_mode: 'cluster', or instances for a node app): its fork-mode runs have no IPC channel to send 'ready' on`);
  return on;
}

/** pm2's default name: the script's base name without its extension. */
function defaultName(plan: ScriptPlan): string {
  return path.basename(plan.execPath).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'app';
}

/** Reads one pm2 app object; refused keys throw, no-effect and unknown keys warn. */
export function planApp(app: Record<string, unknown>, ctx: AppContext): PlannedApp {
  const where = ctx.where;
  for (const key of Object.keys(app)) {
    const h = pm2KeyHandling(key);
    if (!h) ctx.warn(`${where}: unknown key '${key}' ignored`);
    else if (h.handling === 'refused' && app[key] !== undefined && !(key === 'treekill' && app[key] !== false) && !(key === 'autostart' && app[key] !== false)) {
      throw new Error(`${where}: '${key}' is not supported: ${h.why}`);
    } else if (h.handling === 'no-effect' && app[key] !== undefined && app[key] !== false) ctx.warn(`${where}: '${key}' has no effect in runpm: ${h.why}`);
  }
  const cwd = path.resolve(ctx.baseDir, String(app.cwd ?? '.'));
  app = resolveServeScript(app, cwd);
  const plan = planOf(app, cwd, ctx);
  const execMode = execModeOf(app, plan, ctx);
  let name = app.name === undefined || app.name === null ? defaultName(plan) : String(app.name);
  if (bool(app.append_env_to_name) && ctx.envName) name = `${name}-${ctx.envName}`;
  const env = baseEnv(ctx.callerEnv, app.filter_env);
  Object.assign(env, envObject(app.env, 'env', where));
  if (ctx.envName) {
    Object.assign(env, envObject(app[`env_${ctx.envName}`], `env_${ctx.envName}`, where));
    Object.assign(env, envObject(ctx.deployEnv, `deploy.${ctx.envName}.env`, where));
  }
  if (app.port !== undefined) env.PORT = String(app.port);
  // pm2 does this for python: output reaches the logs line by line instead of in 4 KiB blocks.
  if (runsPython(plan.argv) && env.PYTHONUNBUFFERED === undefined) env.PYTHONUNBUFFERED = '1';
  const watch = app.watch;
  const watchOn = watch === undefined || watch === null ? false : Array.isArray(watch) || (typeof watch === 'string' && watch !== 'false') || bool(watch) === true;
  const watchPaths = Array.isArray(watch) ? watch.map(String) : typeof watch === 'string' && watch !== 'true' && watch !== 'false' ? [watch] : [];
  const ignore = app.ignore_watch;
  const stopCodes = app.stop_exit_codes;
  const disable = bool(app.disable_logs) === true;
  const logFile = pick(app, 'log_file', 'log');
  if (logFile === true) throw new Error(`${where}: log_file: true (pm2's default combined log) is not supported: give a path`);
  const deps = pick(app, 'depends_on', 'dependsOn');
  const config: ServiceConfigInput = {
    name,
    cmd: plan.argv,
    cwd,
    env,
    autorestart: bool(app.autorestart) ?? true,
    maxRestarts: num(pick(app, 'max_restarts', 'maxRestarts'), 'max_restarts', where) ?? 0,
    restartDelayMs: durationMs(pick(app, 'restart_delay', 'restart_delay_ms', 'restartDelayMs'), 'restart_delay', where) ?? 0,
    expBackoffRestartDelayMs: durationMs(app.exp_backoff_restart_delay, 'exp_backoff_restart_delay', where) ?? 0,
    killTimeoutMs: durationMs(pick(app, 'kill_timeout', 'kill_timeout_ms', 'killTimeoutMs'), 'kill_timeout', where) ?? 0,
    minUptimeMs: durationMs(pick(app, 'min_uptime', 'min_uptime_ms', 'minUptimeMs'), 'min_uptime', where) ?? 0,
    dependsOn: deps === undefined ? [] : (Array.isArray(deps) ? deps : [deps]).map(String),
    logMaxBytes: num(pick(app, 'log_max_bytes', 'logMaxBytes'), 'log_max_bytes', where) ?? 0,
    logMaxFiles: num(pick(app, 'log_max_files', 'logMaxFiles'), 'log_max_files', where) ?? 0,
    maxMemoryRestartBytes: memoryBytes(app.max_memory_restart, 'max_memory_restart', where) ?? 0,
    instances: instanceCount(app.instances, where),
    instanceVar: app.instance_var === undefined ? '' : String(app.instance_var),
    incrementVar: app.increment_var === undefined ? '' : String(app.increment_var),
    execMode,
    nodeArgsCount: execMode === 'cluster' ? plan.interpreterArgs.length : 0,
    waitReady: waitReadyOf(app, execMode, ctx),
    logType: app.log_type === undefined || app.log_type === null ? '' : String(app.log_type) as 'json',
    listenTimeoutMs: durationMs(app.listen_timeout, 'listen_timeout', where) ?? 0,
    watch: watchOn,
    watchPaths,
    ignoreWatch: ignore === undefined || ignore === null ? [] : (Array.isArray(ignore) ? ignore : [ignore]).map(String),
    watchDelayMs: durationMs(app.watch_delay, 'watch_delay', where) ?? 0,
    cronRestart: pick(app, 'cron_restart', 'cron') === undefined ? '' : String(pick(app, 'cron_restart', 'cron')),
    stopExitCodes: stopCodes === undefined || stopCodes === null ? [] : (Array.isArray(stopCodes) ? stopCodes : [stopCodes]).map(Number),
    namespace: app.namespace === undefined ? '' : String(app.namespace),
    pidFile: pick(app, 'pid_file', 'pid') === undefined ? '' : String(pick(app, 'pid_file', 'pid')),
    outFile: disable ? '/dev/null' : logPath(pick(app, 'out_file', 'out', 'output', 'out_log')),
    errorFile: disable ? '/dev/null' : logPath(pick(app, 'error_file', 'error', 'err', 'err_file', 'err_log')),
    logFile: disable || logFile === undefined || logFile === null || logFile === false ? '' : String(logFile),
    mergeLogs: bool(pick(app, 'merge_logs', 'combine_logs')) ?? false,
    time: bool(app.time) ?? false,
    logDateFormat: app.log_date_format === undefined ? '' : String(app.log_date_format),
    killSignal: app.kill_signal === undefined ? '' : String(app.kill_signal),
    // env carries the caller's whole environment: nothing of the daemon's own (which is whatever the
    // shell that first started it had) leaks in, as pm2 apps get their caller's environment.
    environmentPolicy: pb.EnvironmentPolicy.ENVIRONMENT_POLICY_CALLER,
  };
  return { config, force: bool(app.force) === true, plan };
}
