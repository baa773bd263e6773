// `runpm jlist` / `prettylist`: the services in the JSON shape of `pm2 jlist`, one entry per process
// (each instance of an app is its own entry, its id being pm_id), so tools written for pm2 read it.
// Environment values are left out unless asked for (they often hold secrets); prettylist prints the
// same list the way pm2 does (node's util.inspect), which is what pm2's own scripts grep.
import * as util from 'node:util';
import type { ServiceInfo } from '../../client/services-api';
import { describeArgv } from './pm2-interpreter';

/**
 * pm2's status words for ours. `starting` (spawned, min_uptime not over yet) is pm2's online: pm2
 * reports online from the spawn and uses min_uptime only to count unstable restarts.
 */
const PM2_STATUS: Readonly<Record<string, string>> = {
  online: 'online', starting: 'launching', waiting: 'waiting restart', stopping: 'stopping', stopped: 'stopped', errored: 'errored',
};

const PM2_DEFAULT_MAX_RESTARTS = 16;
const PM2_DEFAULT_MIN_UPTIME_MS = 1000;
const PM2_DEFAULT_KILL_TIMEOUT_MS = 1600;

/** One process in pm2's jlist shape. */
export interface Pm2Process {
  pid: number;
  name: string;
  pm2_env: Record<string, unknown>;
  pm_id: number;
  monit: { memory: number; cpu: number };
}

/** epoch seconds (0 = never) → epoch ms as pm2 reports them. */
function ms(seconds: number): number {
  return seconds ? Math.round(seconds * 1000) : 0;
}

/** A service (one instance) as `pm2 jlist` shows a process; env values only when withEnv. */
export function toPm2Process(s: ServiceInfo, withEnv = false): Pm2Process {
  const c = s.config;
  const argv = describeArgv(c.cmd);
  const running = s.pid !== 0;
  const env: Record<string, unknown> = {};
  if (withEnv) Object.assign(env, c.env);
  const pm2Env: Record<string, unknown> = {
    name: s.name,
    namespace: c.namespace || 'default',
    pm_id: s.id,
    status: PM2_STATUS[s.status] ?? s.status,
    restart_time: s.restartCount,
    unstable_restarts: s.unstableRestarts,
    pm_uptime: ms(s.lastStartedAt),
    created_at: ms(s.createdAt || s.lastStartedAt),
    exec_mode: c.execMode === 'cluster' ? 'cluster_mode' : 'fork_mode',
    instances: c.instances || 1,
    instance_var: c.instanceVar || 'NODE_APP_INSTANCE',
    [c.instanceVar || 'NODE_APP_INSTANCE']: s.instanceIndex,
    exec_interpreter: argv.interpreter,
    pm_exec_path: argv.execPath,
    pm_cwd: c.cwd,
    args: argv.args,
    node_args: argv.interpreterArgs,
    pm_out_log_path: s.outLogPath,
    pm_err_log_path: s.errLogPath,
    pm_log_path: s.combinedLogPath || undefined,
    pm_pid_path: s.pidFilePath || undefined,
    merge_logs: c.mergeLogs,
    autorestart: c.autorestart,
    watch: c.watch ? (c.watchPaths.length > 0 ? c.watchPaths : true) : false,
    // Zeros stand for pm2's defaults (the daemon's too): shown as the values in effect.
    max_restarts: c.maxRestarts || PM2_DEFAULT_MAX_RESTARTS,
    restart_delay: c.restartDelayMs,
    exp_backoff_restart_delay: c.expBackoffRestartDelayMs || undefined,
    min_uptime: c.minUptimeMs || PM2_DEFAULT_MIN_UPTIME_MS,
    kill_timeout: c.killTimeoutMs || PM2_DEFAULT_KILL_TIMEOUT_MS,
    max_memory_restart: c.maxMemoryRestartBytes || undefined,
    cron_restart: c.cronRestart || undefined,
    stop_exit_codes: c.stopExitCodes.length > 0 ? c.stopExitCodes : undefined,
    exit_code: s.lastExitedAt ? s.lastExitCode : undefined,
    last_error: s.lastError || undefined,
    env: withEnv ? env : undefined,
    // pm2's in-app agent reports a node app's name as axm_options.module_name; tools (and pm2's own
    // e2e scripts, which count "name: '<app>'" in prettylist) find it there.
    axm_options: argv.interpreter === 'node' ? { module_name: s.name } : undefined,
  };
  for (const k of Object.keys(pm2Env)) if (pm2Env[k] === undefined) delete pm2Env[k];
  return {
    pid: running ? s.pid : 0,
    name: s.name,
    pm2_env: pm2Env,
    pm_id: s.id,
    monit: { memory: running ? Number(s.memoryBytes) : 0, cpu: running ? Math.round(s.cpuPercent * 10) / 10 : 0 },
  };
}

/** `pm2 jlist`: one JSON line. */
export function formatJlist(services: ServiceInfo[], withEnv = false): string {
  return JSON.stringify(services.map((s) => toPm2Process(s, withEnv)));
}

/** `pm2 prettylist`: the same list as node's util.inspect prints it (pm2's own format). */
export function formatPrettylist(services: ServiceInfo[], withEnv = false): string {
  return util.inspect(services.map((s) => toPm2Process(s, withEnv)), { depth: null, colors: false, maxArrayLength: null, maxStringLength: null });
}
