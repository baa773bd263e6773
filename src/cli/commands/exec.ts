// runpm exec: run a command for an agent — bounded head+tail output, exit code, and a session id
// to pick up later when it outlives the timeout.
import type { Command } from 'commander';
import { action, globalsOf, withClient } from '../context';
import { addSpawnFlags, spawnContextOf, type SpawnFlagValues } from '../spawn-flags';

function nonNegativeInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export function registerExecCommands(program: Command): void {
  addSpawnFlags(program.command('exec')
    .description('run a command (in your directory and environment), wait up to --timeout, print bounded output; a command still running keeps running')
    .argument('<cmd...>', 'command and arguments (after --)')
    .option('--timeout <ms>', 'how long to wait for exit', '10000'))
    .option('--separate-stderr', 'keep stderr apart instead of merged', false)
    .option('--interactive-env', 'do not set the non-interactive defaults (CI=1, PAGER=cat, ...)', false)
    .option('--head <bytes>', 'bytes kept from the start', '16384')
    .option('--tail <bytes>', 'bytes kept from the end', '16384')
    .action(action(async (argv: string[], opts: SpawnFlagValues & { timeout: string; separateStderr: boolean; interactiveEnv: boolean; head: string; tail: string }, cmd: Command) => {
      const context = spawnContextOf(opts);
      const result = await withClient(cmd, (c) => c.exec({
        argv, ...context, timeoutMs: nonNegativeInt('--timeout', opts.timeout),
        separateStderr: opts.separateStderr, interactiveEnv: opts.interactiveEnv,
        headBytes: nonNegativeInt('--head', opts.head), tailBytes: nonNegativeInt('--tail', opts.tail),
      }));
      if (globalsOf(cmd).json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else if (result.startError !== undefined) {
        // As a shell reports it: the reason on stderr, the status 127 or 126.
        process.stderr.write(`runpm: ${result.startError}\n`);
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
