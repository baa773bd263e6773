// runpm exec: run a command for an agent — bounded head+tail output, exit code, and a session id
// to pick up later when it outlives the timeout.
import type { Command } from 'commander';
import { action, globalsOf, withClient } from '../context';

function collectEnv(value: string, previous: Array<{ key: string; value: string }>) {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--env expects KEY=VALUE, got ${JSON.stringify(value)}`);
  return [...previous, { key: value.slice(0, eq), value: value.slice(eq + 1) }];
}

function nonNegativeInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export function registerExecCommands(program: Command): void {
  program.command('exec')
    .description('run a command, wait up to --timeout, print bounded output; a command still running keeps running')
    .argument('<cmd...>', 'command and arguments (after --)')
    .option('--timeout <ms>', 'how long to wait for exit', '10000')
    .option('--cwd <dir>', 'working directory')
    .option('--env <KEY=VALUE>', 'environment entry (repeatable; over the non-interactive defaults)', collectEnv, [])
    .option('--separate-stderr', 'keep stderr apart instead of merged', false)
    .option('--interactive-env', 'do not set the non-interactive defaults (CI=1, PAGER=cat, ...)', false)
    .option('--head <bytes>', 'bytes kept from the start', '16384')
    .option('--tail <bytes>', 'bytes kept from the end', '16384')
    .action(action(async (argv: string[], opts: { timeout: string; cwd?: string; env: Array<{ key: string; value: string }>; separateStderr: boolean; interactiveEnv: boolean; head: string; tail: string }, cmd: Command) => {
      const result = await withClient(cmd, (c) => c.exec({
        argv, cwd: opts.cwd, env: opts.env, timeoutMs: nonNegativeInt('--timeout', opts.timeout),
        separateStderr: opts.separateStderr, interactiveEnv: opts.interactiveEnv,
        headBytes: nonNegativeInt('--head', opts.head), tailBytes: nonNegativeInt('--tail', opts.tail),
      }));
      if (globalsOf(cmd).json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        process.stdout.write(result.output);
        if (result.stderr) process.stderr.write(result.stderr);
        if (result.timedOut) {
          process.stderr.write(`runpm: still running after ${opts.timeout} ms as session ${result.sessionId} (runpm output ${result.sessionId} --follow)\n`);
        }
      }
      // Like a shell: the command's exit code; 124 (timeout(1)'s code) when it is still running.
      return result.timedOut ? 124 : (result.exitCode ?? 1) < 0 ? 128 - (result.exitCode ?? 0) : (result.exitCode ?? 1);
    }));
}
