// runpm ps | tree | zombies | killtree | track | untrack | spawn-daemon: the process registry.
// Output is computed here from plain client answers; nothing native is loaded on this path.
import type { Command } from 'commander';
import { action, emit, withClient } from '../context';

const STATE_NAMES: Record<number, string> = { 0: 'unknown', 1: 'alive', 2: 'dead', 3: 'zombie' };

function parsePid(value: string): number {
  const pid = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(pid) || pid <= 0) throw new Error(`PID must be a positive integer, got ${JSON.stringify(value)}`);
  return pid;
}

/** 3725 → "1h2m", 42 → "42s". */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** Bytes as B/KiB/MiB/GiB with one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

/** Quotes one argument for /bin/sh when needed. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}

export function registerRegistryCommands(program: Command): void {
  program.command('ps')
    .description('list tracked processes (pid, state, uptime, cpu, mem, originator, command)')
    .option('--originator <tool>', 'only processes whose originator is TOOL or TOOL:PID')
    .action(action(async (opts: { originator?: string }, cmd: Command) => {
      const list = await withClient(cmd, (c) => (opts.originator !== undefined
        ? c.listByOriginator(opts.originator, { includeUsage: true })
        : c.listActive({ includeUsage: true })));
      // Explicit fields: decoded messages keep zero defaults on the prototype, out of JSON.stringify's sight.
      const rows = list.map((p) => ({
        pid: p.pid ?? 0, state: STATE_NAMES[p.state ?? 0] ?? String(p.state), uptimeSeconds: p.uptimeSeconds ?? 0,
        cpuPercent: p.cpuPercent ?? 0, memoryBytes: p.memoryBytes ?? 0, originator: p.originator ?? '', command: p.command ?? '',
        kind: p.kind ?? '', cwd: p.cwd ?? '', containment: p.containment ?? '', createdAt: p.createdAt ?? 0,
        registeredAt: p.registeredAt ?? 0, lastValidatedAt: p.lastValidatedAt ?? 0, parentAlive: p.parentAlive ?? false,
      }));
      emit(cmd, rows, () => (rows.length === 0 ? 'no tracked processes' : table([
        ['PID', 'STATE', 'UPTIME', 'CPU', 'MEM', 'ORIGINATOR', 'COMMAND'],
        ...rows.map((p) => [String(p.pid), p.state, formatUptime(p.uptimeSeconds), `${p.cpuPercent.toFixed(1)}%`,
          formatBytes(p.memoryBytes), p.originator || '-', p.command]),
      ])));
    }));

  program.command('tree <pid>')
    .description('show a process and its descendants')
    .action(action(async (pidArg: string, _opts, cmd: Command) => {
      const pid = parsePid(pidArg);
      const text = await withClient(cmd, (c) => c.getProcessTree(pid));
      emit(cmd, { pid, tree: text }, () => text);
    }));

  program.command('zombies')
    .description('report tracked processes that are dead, recycled or orphaned (--kill cleans them up)')
    .option('--kill', 'unregister them and kill orphaned trees', false)
    .action(action(async (opts: { kill: boolean }, cmd: Command) => {
      const reports = await withClient(cmd, (c) => c.killZombies(!opts.kill));
      const plain = reports.map((z) => ({ pid: z.pid ?? 0, command: z.command ?? '', reason: z.reason ?? '', killed: z.killed ?? false }));
      emit(cmd, plain, () => (plain.length === 0 ? 'no zombies' : plain
        .map((z) => `${z.pid}\t${z.killed ? 'killed' : opts.kill ? 'unregistered' : 'would clean'}\t${z.reason}\t${z.command}`).join('\n')));
    }));

  program.command('killtree <pid>')
    .description('SIGKILL a process and all its descendants')
    .option('--timeout <seconds>', 'keep retrying this long (max 30)', '3')
    .action(action(async (pidArg: string, opts: { timeout: string }, cmd: Command) => {
      const pid = parsePid(pidArg);
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout < 0) throw new Error(`--timeout must be a non-negative number, got ${JSON.stringify(opts.timeout)}`);
      const killed = await withClient(cmd, (c) => c.killTree(pid, timeout));
      emit(cmd, { pid, killed }, () => `killed ${killed} process(es)`);
    }));

  program.command('track <pid>')
    .description('register an existing process with the registry')
    .option('--originator <origin>', 'who started it, e.g. TOOL:PID', '')
    .option('--kind <kind>', 'kind label', 'process')
    .option('--command <text>', 'command line to record (default: read from /proc)')
    .action(action(async (pidArg: string, opts: { originator: string; kind: string; command?: string }, cmd: Command) => {
      const pid = parsePid(pidArg);
      const { readCmdline, readCwd } = require('../../proc/process-table') as typeof import('../../proc/process-table');
      const command = opts.command ?? readCmdline(pid).map(shellQuote).join(' ');
      // Not ours to read: leave it empty.
      const cwd = readCwd(pid) ?? '';
      await withClient(cmd, (c) => c.register({ pid, createdAt: 0, kind: opts.kind, command, cwd, originator: opts.originator, containment: 'external' }));
      emit(cmd, { pid, tracked: true }, () => `tracking pid ${pid}`);
    }));

  program.command('untrack <pid>')
    .description('stop tracking a process (it keeps running)')
    .action(action(async (pidArg: string, _opts, cmd: Command) => {
      const pid = parsePid(pidArg);
      await withClient(cmd, (c) => c.unregister(pid));
      emit(cmd, { pid, tracked: false }, () => `no longer tracking pid ${pid}`);
    }));

  program.command('spawn-daemon')
    .description('start a command through /bin/sh, detached in its own session; it outlives runpmd')
    .argument('<command...>', 'command (after --); several words are shell-quoted and joined')
    .option('--cwd <dir>', 'working directory (default: the daemon\'s)', '')
    .option('--env <KEY=VALUE>', 'environment entry, last wins (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--clear-env', 'start from an empty environment (only --env entries)', false)
    .option('--originator <origin>', 'who started it, e.g. TOOL:PID', '')
    .action(action(async (words: string[], opts: { cwd: string; env: string[]; clearEnv: boolean; originator: string }, cmd: Command) => {
      const command = words.length === 1 ? words[0] : words.map(shellQuote).join(' ');
      const env = opts.env.map((e) => {
        const eq = e.indexOf('=');
        if (eq <= 0) throw new Error(`--env expects KEY=VALUE, got ${JSON.stringify(e)}`);
        return { key: e.slice(0, eq), value: e.slice(eq + 1) };
      });
      const cwd = opts.cwd ? require('node:path').resolve(opts.cwd) as string : '';
      const r = await withClient(cmd, (c) => c.spawnDaemon({ command, cwd, env, clearInheritedEnv: opts.clearEnv, originator: opts.originator }));
      emit(cmd, r, () => `started pid ${r.pid}: ${r.command}`);
    }));
}
