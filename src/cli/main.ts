// runpm: the command line. Each subcommand family registers itself from cli/commands/*.ts; only the
// family owning the command on the line is loaded (all of them for help, version or an unknown
// word), so a start pays for one family. Nothing heavy (node-pty, better-sqlite3) is loaded here.
import { Command } from 'commander';
import { packageVersion } from '../version';
import { endQuietlyOnBrokenPipe } from './quiet-pipe';

/** A command family: the top-level words (and aliases) it registers, and how to load it. */
interface CommandFamily {
  words: readonly string[];
  load(): (program: Command) => void;
}

// One line per family. test/cli/main.test.ts checks each `words` list against what it registers.
export const COMMAND_FAMILIES: readonly CommandFamily[] = [
  { words: ['daemon'], load: () => (require('./commands/daemon') as typeof import('./commands/daemon')).registerDaemonCommands },
  { words: ['exec'], load: () => (require('./commands/exec') as typeof import('./commands/exec')).registerExecCommands },
  { words: ['wait'], load: () => (require('./commands/wait') as typeof import('./commands/wait')).registerWaitCommands },
  { words: ['events'], load: () => (require('./commands/events') as typeof import('./commands/events')).registerEventCommands },
  {
    words: ['ps', 'tree', 'zombies', 'killtree', 'track', 'untrack', 'spawn-daemon'],
    load: () => (require('./commands/registry') as typeof import('./commands/registry')).registerRegistryCommands,
  },
  {
    words: ['run', 'sessions', 'output', 'send', 'kill', 'purge'],
    load: () => (require('./commands/sessions') as typeof import('./commands/sessions')).registerSessionCommands,
  },
  {
    words: ['start', 'stop', 'restart', 'reload', 'startOrRestart', 'startOrReload', 'startOrGracefulReload', 'delete', 'del', 'reset',
      'sendSignal', 'list', 'ls', 'l', 'status', 'jlist', 'prettylist', 'describe', 'desc', 'show', 'info', 'env', 'pid', 'logs', 'flush', 'save',
      'dump', 'resurrect', 'ping', 'monit', 'startup', 'serve', 'expose',
      // pm2 commands refused with the reason (services.ts PM2_REFUSED_COMMANDS)
      'link', 'unlink', 'plus', 'monitor', 'unmonitor', 'install', 'uninstall', 'deploy', 'set', 'get', 'unset',
      'updatePM2', 'update', 'reloadLogs'],
    load: () => (require('./commands/services') as typeof import('./commands/services')).registerServiceCommands,
  },
  { words: ['tee'], load: () => (require('./commands/tee') as typeof import('./commands/tee')).registerTeeCommands },
  { words: ['observe'], load: () => (require('./commands/observe') as typeof import('./commands/observe')).registerObserveCommands },
  { words: ['attach', 'resize'], load: () => (require('./commands/pty') as typeof import('./commands/pty')).registerPtyCommands },
];

/** Global flags that take a value (the word after them is not the command). */
const GLOBAL_VALUE_FLAGS = new Set(['--scope', '--home', '--socket']);

/** The command word of a runpm argv (global flags skipped), or null when there is none. */
export function commandWordOf(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return argv[i + 1] ?? null;
    if (GLOBAL_VALUE_FLAGS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return null;
}

/** The program with every family, or (given argv) only the family owning its command word. */
export function buildProgram(argv?: readonly string[]): Command {
  const word = argv ? commandWordOf(argv) : null;
  const askedVersion = argv !== undefined && argv.some((a) => a === '-V' || a === '--version');
  const program = new Command('runpm')
    .description('running-process: detachable sessions, process registry and services');
  // Reading package.json costs a start ~1 ms: only for help, --version, or no command at all.
  if (word === null || askedVersion || argv === undefined || !COMMAND_FAMILIES.some((f) => f.words.includes(word))) {
    program.version(packageVersion(), '-V, --version');
  }
  program
    .option('--scope <name>', 'daemon scope (default: $RUNPM_SCOPE or "default")')
    .option('--home <dir>', 'keep the scope under DIR/<scope>/ (default: $RUNPM_HOME)')
    .option('--socket <path>', 'daemon socket path')
    .option('--json', 'machine-readable output', false);
  const owner = word === null ? undefined : COMMAND_FAMILIES.find((f) => f.words.includes(word));
  // `runpm --version` alone needs no family at all.
  const versionOnly = word === null && askedVersion;
  for (const family of owner ? [owner] : versionOnly ? [] : COMMAND_FAMILIES) family.load()(program);
  return program;
}

/** Runs the CLI with argv (without node and script). */
export async function runCli(argv: string[]): Promise<void> {
  endQuietlyOnBrokenPipe();
  await buildProgram(argv).parseAsync(argv, { from: 'user' });
}
