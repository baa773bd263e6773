// runpm: the command line. Each subcommand family registers itself from cli/commands/*.ts;
// nothing heavy (node-pty, better-sqlite3) is loaded on this path.
import { Command } from 'commander';
import { packageVersion } from '../version';
import { registerDaemonCommands } from './commands/daemon';
import { registerExecCommands } from './commands/exec';
import { registerEventCommands } from './commands/events';
import { registerRegistryCommands } from './commands/registry';
import { registerSessionCommands } from './commands/sessions';
import { registerServiceCommands } from './commands/services';
import { registerTeeCommands } from './commands/tee';
import { registerPtyCommands } from './commands/pty';

export function buildProgram(): Command {
  const program = new Command('runpm')
    .description('running-process: detachable sessions, process registry and services')
    .version(packageVersion(), '-V, --version')
    .option('--scope <name>', 'daemon scope (default: $RUNPM_SCOPE or "default")')
    .option('--home <dir>', 'keep the scope under DIR/<scope>/ (default: $RUNPM_HOME)')
    .option('--socket <path>', 'daemon socket path')
    .option('--json', 'machine-readable output', false);
  registerDaemonCommands(program);
  registerExecCommands(program);
  registerEventCommands(program);
  registerRegistryCommands(program);
  registerSessionCommands(program);
  registerServiceCommands(program);
  registerTeeCommands(program);
  registerPtyCommands(program);
  return program;
}

/** Runs the CLI with argv (without node and script). */
export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
