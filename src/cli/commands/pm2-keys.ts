// Every pm2 app key (pm2 7's lib/API/schema.json plus `cmd`), and what runpm does with it: mapped
// onto a ServiceConfig field, refused with the reason (the start fails), or accepted with a warning
// that it has no effect here and why. The README's pm2 table is this list; nothing is ignored
// silently, and a key that is on no list warns as unknown.

/** What runpm does with a pm2 key. */
export type KeyHandling = 'supported' | 'refused' | 'no-effect';

export interface Pm2Key {
  handling: KeyHandling;
  /** For refused and no-effect keys: why (printed with the error or warning). */
  why?: string;
}

const S: Pm2Key = { handling: 'supported' };
const noEffect = (why: string): Pm2Key => ({ handling: 'no-effect', why });
const refused = (why: string): Pm2Key => ({ handling: 'refused', why });

const MONITORING = 'pm2.io / keymetrics monitoring, which runpm does not have';

/** pm2's keys (aliases included) → handling. env_<NAME> keys are handled by pattern. */
export const PM2_APP_KEYS: Readonly<Record<string, Pm2Key>> = {
  script: S, exec: S, cmd: S, name: S, namespace: S, cwd: S, args: S,
  interpreter: S, exec_interpreter: S, node_args: S, interpreter_args: S, interpreterArgs: S,
  out_file: S, out: S, output: S, out_log: S, error_file: S, error: S, err: S, err_file: S, err_log: S, log_file: S, log: S,
  disable_logs: S, log_date_format: S, time: S, merge_logs: S, combine_logs: S,
  env: S, max_memory_restart: S, pid_file: S, pid: S, restart_delay: S, exp_backoff_restart_delay: S,
  instances: S, kill_timeout: S, cron_restart: S, cron: S, autorestart: S, stop_exit_codes: S,
  watch: S, watch_delay: S, ignore_watch: S, min_uptime: S, max_restarts: S, exec_mode: S, force: S,
  append_env_to_name: S, increment_var: S, instance_var: S, port: S, filter_env: S, kill_signal: S,
  // runpm's own keys (also accepted in pm2 files)
  depends_on: S, dependsOn: S, log_max_bytes: S, logMaxBytes: S, log_max_files: S, logMaxFiles: S,
  restart_delay_ms: S, restartDelayMs: S, kill_timeout_ms: S, killTimeoutMs: S, min_uptime_ms: S, minUptimeMs: S, maxRestarts: S,
  log_type: S,
  wait_ready: S, listen_timeout: S,
  shutdown_with_message: refused("runpm stops apps with kill_signal, then SIGKILL (a cluster reload disconnects the old worker first)"),
  uid: refused("every service runs as the daemon's user"), user: refused("every service runs as the daemon's user"),
  gid: refused("every service runs as the daemon's group"),
  treekill: refused('runpm always stops the whole process tree (treekill: false is not supported)'),
  autostart: refused('every service runpm defines is started (autostart: false is not supported)'),
  watch_options: refused('the watcher options are fixed (chokidar with ignore_watch and watch_delay)'),
  name_prefix: refused('not supported: give the full name'),
  source_map_support: noEffect('source maps are node\'s own (--enable-source-maps in node_args)'),
  disable_source_map_support: noEffect('runpm does not install source-map-support'),
  vizion: noEffect('runpm does not read version-control metadata'),
  pmx: noEffect(MONITORING), automation: noEffect(MONITORING), trace: noEffect(MONITORING), disable_trace: noEffect(MONITORING),
  v8: noEffect(MONITORING), event_loop_inspector: noEffect(MONITORING), deep_monitoring: noEffect(MONITORING), io: noEffect(MONITORING),
  post_update: noEffect('pm2 deploy/pull is not part of runpm'), install_url: noEffect('pm2 module installs are not part of runpm'),
  windowsHide: noEffect('Windows only'), username: noEffect('informational in pm2'), execute_command: noEffect('internal to pm2'),
  write: noEffect('pm2 writes its config back; runpm does not'), kill_retry_time: noEffect('runpm sends kill_signal once, then SIGKILL after kill_timeout'),
  vizion_running: noEffect('internal to pm2'),
};

/** The handling of a key (env_<NAME> is supported: used with --env NAME). */
export function pm2KeyHandling(key: string): Pm2Key | undefined {
  if (/^env_\S+$/.test(key)) return S;
  return Object.prototype.hasOwnProperty.call(PM2_APP_KEYS, key) ? PM2_APP_KEYS[key] : undefined;
}
