// runpm start|stop|restart|delete|list|jlist|describe|logs|flush|save|resurrect|startup: pm2's
// service commands against the scope's daemon (started on demand by `start` and `resurrect`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError as CommanderArgError } from 'commander';
import { action, emit, globalsOf, withClient } from '../context';
import type { ServiceConfigInput, ServiceInfo } from '../../client/services-api';
import { formatServiceSheet, formatServiceTable } from './services-table';
import { registerStartupCommand } from './services-startup';

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

interface StartOptions {
  name?: string;
  cwd?: string;
  env: string[];
  autorestart: boolean;
  maxRestarts?: number;
  restartDelay?: number;
  killTimeout?: number;
  minUptime?: number;
  dependsOn: string[];
  logMaxBytes?: number;
  logMaxFiles?: number;
}

/** Builds the configs `runpm start` sends: one per ecosystem app, or one for CMD... */
function configsFor(args: string[], opts: StartOptions, warn: (m: string) => void): ServiceConfigInput[] {
  const eco = require('./services-ecosystem') as typeof import('./services-ecosystem');
  if (args.length === 1 && eco.isEcosystemFile(args[0]) && fs.existsSync(args[0])) {
    return eco.orderByDependencies(eco.loadEcosystem(args[0], warn));
  }
  const env: Record<string, string> = {};
  for (const kv of opts.env) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--env expects KEY=VALUE, got ${JSON.stringify(kv)}`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  // `runpm start app.js` runs a script with its interpreter like pm2; anything else runs as given.
  let cmd = args;
  if (args.length >= 1 && /\.(c?js|mjs|py)$/.test(args[0]) && fs.existsSync(path.resolve(cwd, args[0]))) {
    cmd = eco.scriptArgv(path.resolve(cwd, args[0]), args.slice(1));
  }
  const name = opts.name ?? path.basename(args[0]).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return [{
    name, cmd, cwd, env, autorestart: opts.autorestart, maxRestarts: opts.maxRestarts ?? 0, restartDelayMs: opts.restartDelay ?? 0,
    killTimeoutMs: opts.killTimeout ?? 0, minUptimeMs: opts.minUptime ?? 0, dependsOn: opts.dependsOn,
    logMaxBytes: opts.logMaxBytes ?? 0, logMaxFiles: opts.logMaxFiles ?? 0,
  }];
}

/** list/jlist JSON: what the daemon reports (it already leaves env values out). */
function listJson(services: ServiceInfo[]): unknown[] {
  return services.map((s) => ({ ...s, config: { ...s.config, env: {} } }));
}

function targetCommand(program: Command, name: string, verb: string, call: 'stopService' | 'restartService' | 'deleteService', alias?: string): void {
  const c = program.command(`${name} <target>`).description(`${verb} a service: a name, an id or "all"`);
  if (alias) c.alias(alias);
  c.action(action(async (target: string, _opts, cmd: Command) => {
    const count = await withClient(cmd, (client) => client[call](target), { autoStart: false });
    const past = { stopService: 'stopped', restartService: 'restarted', deleteService: 'deleted' }[call];
    emit(cmd, { target, [`${past}Count`]: count }, () => `${past} ${count} service${count === 1 ? '' : 's'} (${target})`);
  }));
}

export function registerServiceCommands(program: Command): void {
  program.command('start')
    .description('start a service from CMD..., or every app of an ecosystem file (runpm.config.json/.yaml/.toml, pm2 ecosystem.config.js/.json)')
    .argument('<cmd...>', 'program and arguments (put -- before arguments that look like options), or an ecosystem file')
    .option('--name <name>', 'service name (default: the program\'s base name)')
    .option('--cwd <dir>', 'working directory (default: here)')
    .option('--env <KEY=VALUE>', 'environment entry over the daemon\'s (repeatable)', collect, [])
    .option('--no-autorestart', 'do not restart it when it exits')
    .option('--max-restarts <n>', 'unstable restarts before errored (0 = unlimited)', intArg('--max-restarts'))
    .option('--restart-delay <ms>', 'restart delay base, doubling per quick crash (default 500)', intArg('--restart-delay'))
    .option('--kill-timeout <ms>', 'SIGTERM grace before SIGKILL (default 3000)', intArg('--kill-timeout'))
    .option('--min-uptime <ms>', 'a run longer than this is stable (default 2000)', intArg('--min-uptime'))
    .option('--depends-on <name>', 'start this service first and wait until it is online (repeatable)', collect, [])
    .option('--log-max-bytes <n>', 'rotate each log at this size (default: daemon\'s, 10 MiB)', intArg('--log-max-bytes'))
    .option('--log-max-files <n>', 'rotated logs kept (default: daemon\'s, 5)', intArg('--log-max-files'))
    .action(action(async (args: string[], opts: StartOptions, cmd: Command) => {
      const warnings: string[] = [];
      const configs = configsFor(args, opts, (m) => {
        warnings.push(m);
        process.stderr.write(`runpm: warning: ${m}\n`);
      });
      const started: ServiceInfo[] = [];
      const failed: Array<{ name: string; error: string }> = [];
      await withClient(cmd, async (client) => {
        for (const config of configs) {
          try {
            started.push(await client.startService(config));
          } catch (err) {
            failed.push({ name: String(config.name), error: (err as Error).message });
            process.stderr.write(`runpm: ${config.name}: ${(err as Error).message}\n`);
          }
        }
      }, { autoStart: true });
      emit(cmd, { started: listJson(started), failed, warnings }, () => started.map((s) => `[runpm] ${s.name} (id ${s.id}) ${s.status}${s.pid ? `, pid ${s.pid}` : ''}${s.lastError ? `: ${s.lastError}` : ''}`).join('\n'));
      return failed.length > 0 ? 1 : 0;
    }));

  targetCommand(program, 'stop', 'stop', 'stopService');
  targetCommand(program, 'restart', 'restart', 'restartService');
  targetCommand(program, 'delete', 'stop and forget', 'deleteService', 'del');

  program.command('list').alias('ls').alias('status')
    .description('the services as a table (id, name, status, pid, uptime, restarts, cpu, mem)')
    .action(action(async (_opts, cmd: Command) => {
      const services = await withClient(cmd, (c) => c.listServices(), { autoStart: false });
      emit(cmd, listJson(services), () => formatServiceTable(services));
    }));

  program.command('jlist')
    .description('the services as JSON (no environment values)')
    .action(action(async (_opts, cmd: Command) => {
      const services = await withClient(cmd, (c) => c.listServices(), { autoStart: false });
      process.stdout.write(`${JSON.stringify(listJson(services))}\n`);
    }));

  program.command('describe <target>').alias('show').alias('info')
    .description('everything about one service (name or id)')
    .action(action(async (target: string, _opts, cmd: Command) => {
      const s = await withClient(cmd, (c) => c.describeService(target), { autoStart: false });
      emit(cmd, s, () => formatServiceSheet(s));
    }));

  program.command('logs [target]')
    .description('the last lines of the services\' logs, each line labelled [name:out] or [name:err]')
    .option('--lines <n>', 'lines per stream (default 15)', intArg('--lines'))
    .option('--follow', 'keep printing new lines (Ctrl-C stops)', false)
    .option('--err', 'stderr only', false)
    .option('--out', 'stdout only', false)
    .option('--timestamp', 'prefix lines followed live with the time they were read', false)
    .action(action(async (target: string | undefined, opts: { lines?: number; follow: boolean; err: boolean; out: boolean; timestamp: boolean }, cmd: Command) => {
      if (opts.err && opts.out) throw new Error('--err and --out exclude each other (leave both off for both)');
      const t = target ?? '';
      const query = { target: t, lines: opts.lines ?? 0, outOnly: opts.out, errOnly: opts.err };
      if (!opts.follow) {
        const text = await withClient(cmd, (c) => c.serviceLogs(query), { autoStart: false });
        if (globalsOf(cmd).json) emit(cmd, { lines: text.split('\n').filter(Boolean) }, () => '');
        else process.stdout.write(text);
        return;
      }
      await withClient(cmd, async (c) => {
        const follow = await c.followServiceLogs(query);
        process.stdout.write(follow.tail);
        const stop = () => follow.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        for await (const l of follow) {
          // Waiting for a slow stdout keeps memory bounded: the daemon pauses reading meanwhile.
          if (!process.stdout.write(`${opts.timestamp ? `${new Date().toISOString()} ` : ''}[${l.service}:${l.stream}] ${l.line}\n`)) {
            await new Promise((resolve) => process.stdout.once('drain', resolve));
          }
        }
      }, { autoStart: false });
    }));

  program.command('flush [target]')
    .description('empty the logs of a service (default: all)')
    .action(action(async (target: string | undefined, _opts, cmd: Command) => {
      const n = await withClient(cmd, (c) => c.flushServiceLogs(target ?? ''), { autoStart: false });
      emit(cmd, { flushedCount: n }, () => `flushed the logs of ${n} service${n === 1 ? '' : 's'}`);
    }));

  program.command('save')
    .description('snapshot the services (and which are online) for resurrect')
    .action(action(async (_opts, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.saveServices(), { autoStart: false });
      emit(cmd, r, () => `saved ${r.serviceCount} service${r.serviceCount === 1 ? '' : 's'} to ${r.snapshotPath}`);
    }));

  program.command('resurrect')
    .description('restore the saved services and start those saved as online')
    .action(action(async (_opts, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.resurrectServices(), { autoStart: true });
      emit(cmd, r, () => `restored ${r.restoredCount} service${r.restoredCount === 1 ? '' : 's'}, started ${r.startedCount}`);
    }));

  registerStartupCommand(program);
}
