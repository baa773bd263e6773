// pm2's service commands against the scope's daemon (started on demand by `start`, `resurrect`
// and `ping`): start, stop, restart, reload, delete, reset, sendSignal, list/ls/l/status, jlist,
// prettylist, describe, env, pid, logs, flush, save/dump, resurrect, ping, monit, startup. Targets
// follow pm2 (pm2-targets.ts); flags mean what pm2's do (pm2-app.ts turns them into app keys).
import * as path from 'node:path';
import { Command, InvalidArgumentError as CommanderArgError } from 'commander';
import { action, emit, globalsOf, withClient } from '../context';
import type { DaemonClient } from '../../client/daemon-client';
import type { ServiceInfo } from '../../client/services-api';
import { formatServiceSheet, formatServiceTable } from './services-table';
import { registerStartupCommand } from './services-startup';
import { formatJlist, formatPrettylist, toPm2Process } from './pm2-shape';
import { resolveTargets } from './pm2-targets';
import {
  ecosystemOf, planFile, restartServices, startEcosystem, startOperands, type StartReport, type StartRequest,
} from './services-start';

function intArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CommanderArgError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Flags of start/restart/reload as commander gives them. */
interface StartFlags {
  name?: string; cwd?: string; env: string[]; autorestart: boolean; daemon: boolean;
  instances?: string; logType?: string; output?: string; error?: string; log?: string; time?: boolean; logDateFormat?: string; mergeLogs?: boolean;
  updateEnv?: boolean; force?: boolean; watch?: boolean | string; ignoreWatch: string[]; watchDelay?: string; namespace?: string;
  executeCommand?: boolean; interpreter?: string; interpreterArgs?: string; nodeArgs?: string;
  maxRestarts?: number; restartDelay?: number; expBackoffRestartDelay?: number; killTimeout?: number; minUptime?: string;
  maxMemoryRestart?: string; cron?: string; cronRestart?: string; stopExitCodes?: string[]; only?: string; pid?: string; instanceVar?: string;
  killSignal?: string; disableLogs?: boolean; filterEnv?: string[]; dependsOn: string[]; logMaxBytes?: number; logMaxFiles?: number;
  waitReady?: boolean; listenTimeout?: string; shutdownWithMessage?: boolean; uid?: string; gid?: string;
  automation: boolean; pmx: boolean; vizion: boolean; sourceMapSupport?: boolean; args?: string; port?: string;
}

/** Options start, restart, reload and startOrRestart share (pm2's, plus runpm's own). */
function addStartOptions(c: Command): Command {
  return c
    .option('--name <name>', 'app name (default: the script\'s base name)')
    .option('--cwd <dir>', 'working directory (default: here)')
    .option('--env <NAME|KEY=VALUE>', 'pm2: apply the env_NAME block of the ecosystem file; KEY=VALUE: one variable (repeatable)', collect, [])
    .option('-i, --instances <n>', 'copies ("max" = one per CPU, -1 = all but one); a node app runs them in cluster mode, sharing ports, as pm2')
    .option('-o, --output <file>', 'stdout log file')
    .option('-e, --error <file>', 'stderr log file')
    .option('-l, --log <file>', 'combined log file (both streams)')
    .option('--time', 'prefix log lines with the time')
    .option('--log-date-format <format>', 'time prefix format (moment-style, e.g. "YYYY-MM-DD HH:mm")')
    .option('--log-type <type>', 'json: each log line written as a JSON record (pm2 log_type)')
    .option('--merge-logs', 'instances share one set of log files (no -<id> suffix)')
    .option('--update-env', 'restart with the caller\'s environment instead of the stored one')
    .option('-f, --force', 'start a script even if it runs already')
    .option('--watch [paths]', 'restart when files under cwd (or the given comma-separated paths) change')
    .option('--ignore-watch <paths>', 'paths or globs the watch ignores (repeatable)', collect, [])
    .option('--watch-delay <seconds>', 'wait this long after a change before restarting')
    .option('--namespace <ns>', 'group name targets can use')
    .option('-x, --execute-command', 'fork mode: each instance its own process (pm2 -x)')
    .option('--interpreter <prog>', 'interpreter ("none" runs the file itself)')
    .option('--interpreter-args <args>', 'arguments for the interpreter')
    .option('--node-args <args>', 'arguments for node')
    .option('--args <args>', 'arguments for the script (or put them after --)')
    .option('--no-autorestart', 'do not restart it when it exits')
    .option('--max-restarts <n>', 'unstable restarts before errored (default 15, as pm2)', intArg('--max-restarts'))
    .option('--restart-delay <ms>', 'fixed delay before each automatic restart', intArg('--restart-delay'))
    .option('--exp-backoff-restart-delay <ms>', 'first restart delay, growing x1.5 per crash', intArg('--exp-backoff-restart-delay'))
    .option('--kill-timeout <ms>', 'grace after the kill signal before SIGKILL (default 1600)', intArg('--kill-timeout'))
    .option('--min-uptime <ms>', 'a run longer than this is stable (default 1000; "2s" works)')
    .option('--max-memory-restart <size>', 'restart when memory goes over this ("200M", "1G")')
    .option('-c, --cron <expr>', 'restart at the times of this cron expression')
    .option('--cron-restart <expr>', 'same as --cron')
    .option('--stop-exit-codes <codes...>', 'exit codes after which it is not restarted')
    .option('--only <names>', 'ecosystem file: only these apps (comma-separated)')
    .option('-p, --pid <file>', 'pid file (the id goes before .pid)')
    .option('--instance-var <name>', 'variable holding the instance number (default NODE_APP_INSTANCE)')
    .option('--kill-signal <sig>', 'first stop signal (default SIGINT)')
    .option('--disable-logs', 'discard the app\'s output')
    .option('--filter-env <prefixes...>', 'do not pass the caller\'s variables starting with these')
    .option('--port <port>', 'sets PORT in the app\'s environment')
    .option('--depends-on <name>', 'start this service first and wait until it is online (repeatable)', collect, [])
    .option('--log-max-bytes <n>', 'rotate each log at this size (default: daemon\'s, 10 MiB)', intArg('--log-max-bytes'))
    .option('--log-max-files <n>', 'rotated logs kept (default: daemon\'s, 5)', intArg('--log-max-files'))
    .option('--no-daemon', 'pm2\'s foreground mode (refused: runpm always supervises from its daemon)')
    .option('--wait-ready', "cluster mode: online once the app calls process.send('ready')")
    .option('--listen-timeout <ms>', "how long to wait for 'ready' (--wait-ready) or, on reload, for the new worker to listen (default 3000)")
    .option('--shutdown-with-message', 'refused: no IPC channel to the app')
    .option('--uid <uid>', 'refused: services run as the daemon\'s user')
    .option('--gid <gid>', 'refused: services run as the daemon\'s group')
    .option('--no-automation', 'pm2.io monitoring off (no effect: runpm has none)')
    .option('--no-pmx', 'pm2.io monitoring off (no effect: runpm has none)')
    .option('--no-vizion', 'version metadata off (no effect: runpm reads none)')
    .option('--source-map-support', 'no effect: use --node-args=--enable-source-maps');
}

/** The flags as pm2 app keys (only those given), checking the refused ones. */
function startRequestOf(flags: StartFlags, warn: (m: string) => void): StartRequest {
  const refuse = (flag: string, why: string) => {
    throw new Error(`${flag} is not supported: ${why}`);
  };
  if (flags.daemon === false) refuse('--no-daemon', 'runpm always supervises apps from its daemon (run the script directly for a foreground process)');
  if (flags.shutdownWithMessage) refuse('--shutdown-with-message', 'runpm has no IPC channel to the app: it stops apps with --kill-signal, then SIGKILL');
  if (flags.uid !== undefined || flags.gid !== undefined) refuse(flags.uid !== undefined ? '--uid' : '--gid', "every service runs as the daemon's user and group");
  if (!flags.automation || !flags.pmx) warn('--no-automation / --no-pmx have no effect: runpm has no pm2.io monitoring');
  if (!flags.vizion) warn('--no-vizion has no effect: runpm reads no version-control metadata');
  if (flags.sourceMapSupport) warn('--source-map-support has no effect: use --node-args=--enable-source-maps');
  const keys: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) keys[key] = value;
  };
  const kv: Record<string, string> = {};
  let envName: string | undefined;
  for (const e of flags.env) {
    const eq = e.indexOf('=');
    if (eq > 0) kv[e.slice(0, eq)] = e.slice(eq + 1);
    else if (eq === 0 || e === '') throw new Error(`--env expects an environment name (pm2: --env production) or KEY=VALUE, got ${JSON.stringify(e)}`);
    else if (envName !== undefined && envName !== e) throw new Error(`--env ${envName} and --env ${e}: give one environment name`);
    else envName = e;
  }
  set('name', flags.name);
  set('cwd', flags.cwd === undefined ? undefined : path.resolve(flags.cwd));
  if (Object.keys(kv).length > 0) keys.env = kv;
  set('instances', flags.instances);
  if (flags.waitReady) keys.wait_ready = true;
  set('listen_timeout', flags.listenTimeout);
  if (flags.executeCommand) keys.exec_mode = 'fork';
  set('out_file', flags.output);
  set('error_file', flags.error);
  set('log_file', flags.log);
  set('time', flags.time);
  set('log_date_format', flags.logDateFormat);
  set('merge_logs', flags.mergeLogs);
  set('log_type', flags.logType);
  if (flags.watch !== undefined) keys.watch = typeof flags.watch === 'string' ? flags.watch.split(',').filter(Boolean) : flags.watch;
  if (flags.ignoreWatch.length > 0) keys.ignore_watch = flags.ignoreWatch.flatMap((p) => p.split(',')).filter(Boolean);
  if (flags.watchDelay !== undefined) {
    const secs = Number(flags.watchDelay);
    if (!Number.isFinite(secs) || secs < 0) throw new Error(`--watch-delay must be seconds, got ${JSON.stringify(flags.watchDelay)}`);
    keys.watch_delay = Math.round(secs * 1000);
  }
  set('namespace', flags.namespace);
  set('interpreter', flags.interpreter);
  set('interpreter_args', flags.interpreterArgs);
  set('node_args', flags.nodeArgs);
  set('args', flags.args);
  if (flags.autorestart === false) keys.autorestart = false;
  set('max_restarts', flags.maxRestarts);
  set('restart_delay', flags.restartDelay);
  set('exp_backoff_restart_delay', flags.expBackoffRestartDelay);
  set('kill_timeout', flags.killTimeout);
  set('min_uptime', flags.minUptime);
  set('max_memory_restart', flags.maxMemoryRestart);
  set('cron_restart', flags.cron ?? flags.cronRestart);
  if (flags.stopExitCodes && flags.stopExitCodes.length > 0) {
    keys.stop_exit_codes = flags.stopExitCodes.flatMap((c) => c.split(',')).map((c) => {
      const n = Number(c);
      if (!Number.isInteger(n)) throw new Error(`--stop-exit-codes expects exit codes, got ${JSON.stringify(c)}`);
      return n;
    });
  }
  set('pid_file', flags.pid);
  set('instance_var', flags.instanceVar);
  set('kill_signal', flags.killSignal);
  set('disable_logs', flags.disableLogs);
  if (flags.filterEnv && flags.filterEnv.length > 0) keys.filter_env = flags.filterEnv;
  set('port', flags.port);
  if (flags.dependsOn.length > 0) keys.depends_on = flags.dependsOn;
  set('log_max_bytes', flags.logMaxBytes);
  set('log_max_files', flags.logMaxFiles);
  return {
    keys, envName, updateEnv: flags.updateEnv === true, force: flags.force === true, warn,
    only: flags.only === undefined ? undefined : flags.only.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

function warner(warnings: string[]): (m: string) => void {
  return (m) => {
    warnings.push(m);
    process.stderr.write(`runpm: warning: ${m}\n`);
  };
}

/** The words after `--` on the command line (a script's own arguments, as pm2). */
function argsAfterDashes(cmd: Command): string[] {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs: string[] }).rawArgs ?? [];
  const i = raw.indexOf('--');
  return i >= 0 ? raw.slice(i + 1) : [];
}

/** Prints what a start/restart did and the table (pm2 does too); failures on stderr, exit 1. */
async function finishStart(cmd: Command, client: DaemonClient, report: StartReport, warnings: string[]): Promise<number> {
  for (const f of report.failed) process.stderr.write(`runpm: ${f.name}: ${f.error}\n`);
  const all = await client.listServices();
  emit(cmd, { started: report.started.map((s) => toPm2Process(s)), failed: report.failed, warnings }, () => formatServiceTable(all));
  return report.failed.length > 0 ? 1 : 0;
}

type StartMode = 'start' | 'restart' | 'reload';

/** start / restart / reload / startOrRestart / startOrReload: one action, pm2's meaning per mode. */
function startLikeAction(mode: StartMode) {
  return action(async (operands: string[], flags: StartFlags, cmd: Command) => {
    const warnings: string[] = [];
    const warn = warner(warnings);
    const req = startRequestOf(flags, warn);
    const afterDashes = argsAfterDashes(cmd);
    // commander puts the words after -- among the operands: they are the script's arguments.
    const own = afterDashes.length > 0 ? operands.slice(0, operands.length - afterDashes.length) : operands;
    const eco = ecosystemOf(own, warn);
    if (!eco && own.length === 0 && afterDashes.length === 0) throw new Error(`${mode} needs a script, an ecosystem file, or an app (name, id, namespace or all)`);
    const report: StartReport = { started: [], failed: [] };
    if (eco) {
      const apps = planFile(eco, req);
      return withClient(cmd, async (client) => {
        await startEcosystem(client, apps, report);
        return finishStart(cmd, client, report, warnings);
      }, { autoStart: true });
    }
    if (mode !== 'start') {
      return withClient(cmd, async (client) => {
        const targets = resolveTargets(own, await client.listServices());
        if (afterDashes.length > 0) req.keys.args = afterDashes;
        await restartServices(client, targets, req, report, mode === 'reload');
        return finishStart(cmd, client, report, warnings);
      }, { autoStart: false });
    }
    return withClient(cmd, async (client) => {
      // `runpm start -- CMD ARGS` (nothing before --): run CMD as given.
      if (own.length === 0) await startOperands(client, afterDashes.slice(0, 1), afterDashes.slice(1), req, report);
      else await startOperands(client, own, afterDashes, req, report);
      return finishStart(cmd, client, report, warnings);
    }, { autoStart: true });
  });
}

/** The services some targets (or an ecosystem file's apps, or "-" for one on stdin) name. */
async function targetsOf(client: DaemonClient, operands: string[], only?: string): Promise<ServiceInfo[]> {
  const services = await client.listServices();
  const eco = ecosystemOf(operands, () => undefined);
  if (eco) {
    const names = eco.apps.map((a, i) => (a.name === undefined ? null : String(a.name)) ?? `app ${i}`);
    const wanted = only ? only.split(',').map((s) => s.trim()) : names;
    const picked = services.filter((s) => wanted.includes(s.name) && names.includes(s.name));
    if (picked.length === 0) throw new Error(`none of the apps of ${eco.shown} (${names.join(', ')}) is defined`);
    return picked;
  }
  return resolveTargets(operands, services);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** stop / delete / reset: act on every target by id. */
function targetCommand(program: Command, name: string, verb: string, past: string, call: (c: DaemonClient, id: string) => Promise<number>, alias?: string): void {
  const c = program.command(`${name} <targets...>`)
    .description(`${verb}: ids, names, /regex/, namespaces, script paths, an ecosystem file, or "all"`)
    .option('--only <names>', 'ecosystem file: only these apps');
  if (alias) c.alias(alias);
  c.action(action(async (targets: string[], opts: { only?: string }, cmd: Command) => {
    const count = await withClient(cmd, async (client) => {
      const picked = await targetsOf(client, targets, opts.only);
      let n = 0;
      for (const s of picked) n += await call(client, String(s.id));
      return picked.length === 0 ? 0 : Math.max(n, picked.length);
    }, { autoStart: false });
    emit(cmd, { targets, [`${past}Count`]: count }, () => `${past} ${plural(count, 'service')} (${targets.join(' ')})`);
  }));
}

export function registerServiceCommands(program: Command): void {
  addStartOptions(program.command('start')
    .description('start scripts (pm2: app.js, a command in PATH), an ecosystem file (ecosystem.config.js, *.json, *.yaml, runpm.config.toml, "-" for stdin), or restart apps by name/id/namespace')
    .argument('[operands...]', 'scripts (arguments after --), an ecosystem file, or app names / ids'))
    .action(startLikeAction('start'));
  for (const word of ['restart', 'reload']) {
    addStartOptions(program.command(`${word} <targets...>`)
      .description(`${word === 'reload' ? 'reload (cluster mode: each worker replaced once its successor listens, no downtime; fork mode: a restart, as pm2)' : 'restart'} apps: ids, names, /regex/, namespaces, script paths, "all", or an ecosystem file (redefined from it)`))
      .action(startLikeAction(word === 'reload' ? 'reload' : 'restart'));
  }
  for (const word of ['startOrRestart', 'startOrReload', 'startOrGracefulReload']) {
    addStartOptions(program.command(`${word} <files...>`).description('start the apps of an ecosystem file, restarting those that run'))
      .action(startLikeAction('start'));
  }

  targetCommand(program, 'stop', 'stop apps', 'stopped', (c, id) => c.stopService(id));
  targetCommand(program, 'delete', 'stop and forget apps', 'deleted', (c, id) => c.deleteService(id), 'del');
  targetCommand(program, 'reset', 'set restart counters back to 0', 'reset', (c, id) => c.resetService(id));

  program.command('sendSignal <signal> <targets...>')
    .description('send a signal (SIGUSR2, USR2, 12) to the apps\' processes')
    .action(action(async (signal: string, targets: string[], _opts, cmd: Command) => {
      const sig = parseSignalName(signal);
      const picked = await withClient(cmd, async (c) => resolveTargets(targets, await c.listServices()), { autoStart: false });
      const running = picked.filter((s) => s.pid > 0);
      if (running.length === 0) throw new Error(`no running process among ${targets.join(' ')} to send ${signal} to`);
      for (const s of running) process.kill(s.pid, sig);
      emit(cmd, { signal: sig, pids: running.map((s) => s.pid) }, () => `sent ${sig} to ${running.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}`);
    }));

  program.command('list').alias('ls').alias('l').alias('status')
    .description('the apps as a table (id, name, status, pid, uptime, restarts, cpu, mem)')
    .action(action(async (_opts, cmd: Command) => {
      const services = await listOrEmpty(cmd);
      emit(cmd, services.map((s) => toPm2Process(s)), () => formatServiceTable(services));
    }));

  program.command('jlist')
    .description('the apps as JSON in pm2\'s shape (environment values only with --with-env)')
    .option('--with-env', 'include each app\'s environment values', false)
    .action(action(async (opts: { withEnv: boolean }, cmd: Command) => {
      const services = await listWithEnv(cmd, opts.withEnv);
      process.stdout.write(`${formatJlist(services, opts.withEnv)}\n`);
    }));

  program.command('prettylist')
    .description('jlist printed readably (as pm2 prints it)')
    .option('--with-env', 'include each app\'s environment values', false)
    .action(action(async (opts: { withEnv: boolean }, cmd: Command) => {
      const services = await listWithEnv(cmd, opts.withEnv);
      process.stdout.write(`${formatPrettylist(services, opts.withEnv)}\n`);
    }));

  program.command('describe <target>').alias('desc').alias('show').alias('info')
    .description('everything about an app (id, name, script path)')
    .action(action(async (target: string, _opts, cmd: Command) => {
      const sheets = await withClient(cmd, async (c) => {
        const picked = resolveTargets([target], await c.listServices());
        return Promise.all(picked.map((s) => c.describeService(String(s.id))));
      }, { autoStart: false });
      emit(cmd, sheets.length === 1 ? sheets[0] : sheets, () => sheets.map((s) => formatServiceSheet(s)).join('\n\n'));
    }));

  program.command('env <id>')
    .description('the environment an app runs with (KEY: value lines, as pm2)')
    .action(action(async (target: string, _opts, cmd: Command) => {
      const s = await withClient(cmd, async (c) => {
        const picked = resolveTargets([target], await c.listServices());
        return c.describeService(String(picked[0].id));
      }, { autoStart: false });
      emit(cmd, s.config.env, () => Object.entries(s.config.env).map(([k, v]) => `${k}: ${v}`).join('\n'));
    }));

  program.command('pid [target]')
    .description('the pids of the apps (all, or one name/id), one a line')
    .action(action(async (target: string | undefined, _opts, cmd: Command) => {
      const services = await listOrEmpty(cmd);
      const picked = target === undefined ? services : resolveTargets([target], services);
      emit(cmd, picked.map((s) => s.pid), () => picked.map((s) => String(s.pid)).join('\n'));
    }));

  program.command('logs [target]')
    .description('the apps\' logs: the last lines, then new lines as they come (Ctrl-C stops); --nostream prints and exits')
    .option('--lines <n>', 'lines per stream (default 15)', intArg('--lines'))
    .option('--nostream', 'print the last lines and exit', false)
    .option('--follow', 'keep printing new lines (the default; kept for compatibility)', false)
    .option('--err', 'stderr only', false)
    .option('--out', 'stdout only', false)
    .option('--raw', 'lines without the [name:stream] label', false)
    .option('--timestamp', 'prefix lines followed live with the time they were read', false)
    .action(action(async (target: string | undefined, opts: { lines?: number; nostream: boolean; err: boolean; out: boolean; raw: boolean; timestamp: boolean }, cmd: Command) => {
      if (opts.err && opts.out) throw new Error('--err and --out exclude each other (leave both off for both)');
      const t = target ?? '';
      const query = { target: t === 'all' ? '' : t, lines: opts.lines ?? 0, outOnly: opts.out, errOnly: opts.err };
      const unlabel = (text: string) => (opts.raw ? text.replace(/^\[[^\]\n]*:(out|err)\] /gm, '') : text);
      if (opts.nostream || globalsOf(cmd).json) {
        const text = await withClient(cmd, (c) => c.serviceLogs(query), { autoStart: false });
        if (globalsOf(cmd).json) emit(cmd, { lines: text.split('\n').filter(Boolean) }, () => '');
        else process.stdout.write(unlabel(text));
        return;
      }
      await withClient(cmd, async (c) => {
        const follow = await c.followServiceLogs(query);
        process.stdout.write(unlabel(follow.tail));
        const stop = () => follow.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        for await (const l of follow) {
          const label = opts.raw ? '' : `[${l.service}:${l.stream}] `;
          // Waiting for a slow stdout keeps memory bounded: the daemon pauses reading meanwhile.
          if (!process.stdout.write(`${opts.timestamp ? `${new Date().toISOString()} ` : ''}${label}${l.line}\n`)) {
            await new Promise((resolve) => process.stdout.once('drain', resolve));
          }
        }
      }, { autoStart: false });
    }));

  program.command('flush [target]')
    .description('empty the logs of an app (default: all)')
    .action(action(async (target: string | undefined, _opts, cmd: Command) => {
      const n = await withClient(cmd, (c) => c.flushServiceLogs(target === undefined || target === 'all' ? '' : target), { autoStart: false });
      emit(cmd, { flushedCount: n }, () => `flushed the logs of ${plural(n, 'service')}`);
    }));

  program.command('save').alias('dump')
    .description('snapshot the apps (and which are online) for resurrect')
    .action(action(async (_opts, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.saveServices(), { autoStart: false });
      const pm2Dump = await savePm2Dump(cmd);
      emit(cmd, { ...r, pm2DumpPath: 'path' in pm2Dump ? pm2Dump.path : '' }, () => `saved ${plural(r.serviceCount, 'service')} to ${r.snapshotPath}${'path' in pm2Dump ? ` and, in pm2's form, to ${pm2Dump.path}` : ''}`);
      if ('skipped' in pm2Dump && pm2Dump.skipped !== '') process.stderr.write(`runpm: pm2's dump.pm2 not written: ${pm2Dump.skipped}\n`);
    }));

  program.command('resurrect')
    .description('restore the saved apps and start those saved as online')
    .action(action(async (_opts, cmd: Command) => {
      const pm2Dump = defaultScope(cmd) ? readPm2DumpHere() : null;
      if (pm2Dump?.removedBroken) process.stderr.write(`runpm: ${pm2Dump.removedBroken} was not a list of apps: removed, as pm2 does (its .bak is read instead)\n`);
      const r = await withClient(cmd, async (c) => {
        try {
          return await c.resurrectServices();
        } catch (err) {
          // No runpm snapshot: pm2's dump brings the apps over (pm2 save, then runpm resurrect).
          const { DaemonError } = require('../../wire/errors') as typeof import('../../wire/errors');
          const { StatusCode } = require('../../wire/proto') as typeof import('../../wire/proto');
          if (!(err instanceof DaemonError && err.code === StatusCode.STATUS_CODE_NOT_FOUND) || !pm2Dump?.apps) throw err;
          return resurrectFromPm2Dump(c, pm2Dump.apps, pm2Dump.from);
        }
      }, { autoStart: true });
      emit(cmd, r, () => `restored ${plural(r.restoredCount, 'service')}, started ${r.startedCount}`);
    }));

  program.command('serve [path] [port]').alias('expose')
    .description('serve a directory over http as an app (pm2 serve: static-page-server-<port>)')
    .option('--port <port>', 'port to listen on (default 8080)')
    .option('--spa', 'an unknown path serves its base name, else the homepage (single-page apps)')
    .option('--homepage <path>', 'what / serves (default /index.html)')
    .option('--basic-auth-username <username>', 'basic auth user name')
    .option('--basic-auth-password <password>', 'basic auth password')
    .option('--name <name>', 'app name')
    .option('--ftp', 'refused: no directory listing')
    .option('--monitor <app>', 'refused: pm2.io browser monitoring')
    .action(action(async (dir: string | undefined, port: string | undefined, opts: { port?: string; spa?: boolean; homepage?: string; basicAuthUsername?: string; basicAuthPassword?: string; name?: string; ftp?: boolean; monitor?: string }, cmd: Command) => {
      if (opts.ftp) throw new Error('serve --ftp is not supported: runpm serve lists no directories (it serves files, 404.html on a miss)');
      if (opts.monitor !== undefined) throw new Error('serve --monitor is not supported: pm2.io browser monitoring is not built in');
      const { serveApp } = require('./pm2-serve') as typeof import('./pm2-serve');
      const app = serveApp({ path: dir, port: port ?? opts.port, spa: opts.spa, homepage: opts.homepage, username: opts.basicAuthUsername, password: opts.basicAuthPassword, name: opts.name }, process.cwd());
      const warnings: string[] = [];
      const { planApp } = require('./pm2-app') as typeof import('./pm2-app');
      const planned = planApp(app, { baseDir: process.cwd(), where: 'serve', warn: warner(warnings), callerEnv: process.env });
      const report: StartReport = { started: [], failed: [] };
      return withClient(cmd, async (client) => {
        await startEcosystem(client, [planned], report);
        return finishStart(cmd, client, report, warnings);
      }, { autoStart: true });
    }));

  program.command('ping')
    .description('start the daemon if needed and check it answers (pm2 ping)')
    .action(action(async (_opts, cmd: Command) => {
      const pong = await withClient(cmd, (c) => c.ping(), { autoStart: true });
      emit(cmd, { msg: 'pong', serverTimeMs: pong.serverTimeMs }, () => '{ msg: \'pong\' }');
    }));

  program.command('monit')
    .description('pm2\'s terminal dashboard (not built in runpm: see runpm ls and runpm jlist)')
    .action(action(async () => {
      throw new Error('monit is not built in runpm: runpm ls shows cpu and memory per app, runpm jlist the same as JSON (monit.cpu, monit.memory)');
    }));

  for (const [word, why] of Object.entries(PM2_REFUSED_COMMANDS)) {
    program.command(word).description(`pm2's ${word} (not in runpm: ${why})`).allowUnknownOption().allowExcessArguments()
      .action(action(async () => {
        throw new Error(`${word} is pm2's and not part of runpm: ${why}`);
      }));
  }

  registerStartupCommand(program);
}

/** pm2 commands runpm does not have, each refused with the reason (instead of "unknown command"). */
export const PM2_REFUSED_COMMANDS: Readonly<Record<string, string>> = {
  link: 'pm2.io (keymetrics) monitoring is not built in',
  unlink: 'pm2.io (keymetrics) monitoring is not built in',
  plus: 'pm2.io (keymetrics) monitoring is not built in',
  monitor: 'pm2.io (keymetrics) monitoring is not built in',
  unmonitor: 'pm2.io (keymetrics) monitoring is not built in',
  install: 'pm2 modules are not supported',
  uninstall: 'pm2 modules are not supported',
  deploy: 'pm2 deploy is not supported (use your deploy tool, then runpm startOrRestart FILE)',
  set: 'pm2 module configuration is not supported',
  get: 'pm2 module configuration is not supported',
  unset: 'pm2 module configuration is not supported',
  updatePM2: 'the daemon is updated with the package (npm); runpm save, restart the daemon, runpm resurrect',
  update: 'the daemon is updated with the package (npm); runpm save, restart the daemon, runpm resurrect',
  reloadLogs: 'runpm reopens log files itself when it rotates them (by rename and reopen); runpm flush empties them',
};

/** The list, or none when no daemon runs (pm2 ls starts its daemon; an empty list is the same answer). */
async function listOrEmpty(cmd: Command): Promise<ServiceInfo[]> {
  try {
    return await withClient(cmd, (c) => c.listServices(), { autoStart: false });
  } catch (err) {
    if ((err as Error).name === 'DaemonNotRunningError') return [];
    throw err;
  }
}

/** The list with each app's environment when asked (describe carries it). */

function defaultScope(cmd: Command): boolean {
  const { DEFAULT_SCOPE } = require('../../scope/paths') as typeof import('../../scope/paths');
  return (globalsOf(cmd).scope ?? process.env.RUNPM_SCOPE ?? DEFAULT_SCOPE) === DEFAULT_SCOPE;
}

function readPm2DumpHere(): import('../../scope/pm2-home').Pm2DumpRead {
  const { pm2HomeOf, readPm2Dump } = require('../../scope/pm2-home') as typeof import('../../scope/pm2-home');
  return readPm2Dump(pm2HomeOf());
}

/**
 * Defines the apps of a pm2 dump (pm2_env objects: name, pm_exec_path, args, node_args,
 * exec_interpreter, pm_cwd, env, instances, exec_mode, ...) and starts those pm2 had online.
 */
async function resurrectFromPm2Dump(c: DaemonClient, apps: Array<Record<string, unknown>>, from: string): Promise<{ restoredCount: number; startedCount: number }> {
  const { planApp } = require('./pm2-app') as typeof import('./pm2-app');
  const { PM2_APP_KEYS } = require('./pm2-keys') as typeof import('./pm2-keys');
  let restored = 0;
  let started = 0;
  const seen = new Set<string>();
  // pm2's dump has one entry per instance (and no instances key): the count is the entries'.
  const perName = new Map<string, number>();
  for (const e of apps) perName.set(String(e.name), (perName.get(String(e.name)) ?? 0) + 1);
  for (const [i, e] of apps.entries()) {
    const name = String(e.name ?? `app ${i}`);
    if (seen.has(name)) continue; // one entry per instance: the first defines them all
    seen.add(name);
    const app: Record<string, unknown> = { script: e.pm_exec_path, cwd: e.pm_cwd, interpreter: e.exec_interpreter, node_args: e.node_args, args: e.args };
    for (const [k, v] of Object.entries(e)) if (k in PM2_APP_KEYS && !(k in app) && v !== undefined && v !== null && PM2_APP_KEYS[k].handling === 'supported') app[k] = v;
    if (e.env && typeof e.env === 'object') app.env = e.env;
    const count = perName.get(name) ?? 1;
    if (count > 1 || String(e.exec_mode ?? '').startsWith('cluster')) app.instances = count;
    const planned = planApp(app, { baseDir: String(e.pm_cwd ?? process.cwd()), where: `${from}: ${name}`, warn: () => undefined, callerEnv: {} });
    if (e.status === 'stopped') {
      restored++;
      continue; // pm2 resurrect leaves stopped apps stopped; runpm defines only what it starts
    }
    await c.startServiceInstances(planned.config, { restartExisting: true });
    restored++;
    started++;
  }
  return { restoredCount: restored, startedCount: started };
}

/**
 * The default scope's `save` also writes pm2's dump ($PM2_HOME/dump.pm2, previous one kept as
 * .bak), so tools and scripts that read pm2's dump find the apps; other scopes are runpm's own.
 */
async function savePm2Dump(cmd: Command): Promise<{ path: string } | { skipped: string }> {
  if (!defaultScope(cmd)) return { skipped: '' };
  const { pm2HomeOf, writePm2Dump } = require('../../scope/pm2-home') as typeof import('../../scope/pm2-home');
  const services = await listWithEnv(cmd, true);
  return writePm2Dump(pm2HomeOf(), services.map((s) => toPm2Process(s, true).pm2_env));
}

async function listWithEnv(cmd: Command, withEnv: boolean): Promise<ServiceInfo[]> {
  if (!withEnv) return listOrEmpty(cmd);
  return withClient(cmd, async (c) => Promise.all((await c.listServices()).map((s) => c.describeService(String(s.id)))), { autoStart: false });
}

/** "SIGUSR2", "USR2" or "12" → a signal name node knows. */
function parseSignalName(value: string): NodeJS.Signals {
  const { constants } = require('node:os') as typeof import('node:os');
  const byNumber = Object.entries(constants.signals).find(([, n]) => String(n) === value);
  if (byNumber) return byNumber[0] as NodeJS.Signals;
  const name = (value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new Error(`unknown signal ${JSON.stringify(value)} (use a name like SIGUSR2 or a number)`);
  return name;
}

/** `runpm kill` without a session id: pm2's kill. Every app is stopped and forgotten, then the daemon stops. */
export async function killDaemon(cmd: Command): Promise<void> {
  const { connectFor } = require('../context') as typeof import('../context');
  let client: DaemonClient;
  try {
    client = await connectFor(cmd, { autoStart: false });
  } catch (err) {
    if ((err as Error).name !== 'DaemonNotRunningError') throw err;
    emit(cmd, { stopped: false, running: false }, () => 'runpmd is not running');
    return;
  }
  const fs = require('node:fs') as typeof import('node:fs');
  const socketPath = client.paths.socketPath;
  const pid = readDaemonPid(client.paths.lockPath);
  try {
    const services = await client.listServices();
    if (services.length > 0) await client.deleteService('all');
    await client.shutdown({ graceful: true, timeoutSeconds: 5 });
  } finally {
    client.close();
  }
  const deadline = Date.now() + 15_000;
  // Gone means the process too, not only its socket: a start right after must not meet the old daemon's lock.
  while (fs.existsSync(socketPath) || (pid !== null && processExists(pid))) {
    if (Date.now() > deadline) throw new Error('timed out after 15 s waiting for runpmd to stop');
    await new Promise((r) => setTimeout(r, 20));
  }
  emit(cmd, { stopped: true }, () => 'runpmd stopped (every app stopped and deleted, as pm2 kill)');
}

function readDaemonPid(lockPath: string): number | null {
  try {
    const pid = Number.parseInt((require('node:fs') as typeof import('node:fs')).readFileSync(lockPath, 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** True while the pid runs (a zombie, exited but not yet reaped by its parent, counts as gone). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = (require('node:fs') as typeof import('node:fs')).readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
