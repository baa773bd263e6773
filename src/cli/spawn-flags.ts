// The flags run and exec share for where and with what environment a command runs: --cwd
// (relative to the caller's directory), --env KEY=VALUE, --env-policy, --clear-env. By default a
// command gets the caller's directory and environment, like a command typed in the shell.
import type { Command } from 'commander';
import type { EnvironmentPolicy } from '../client/spawn-context';

export interface SpawnFlagValues {
  cwd?: string;
  env: Array<{ key: string; value: string }>;
  envPolicy?: string;
  clearEnv: boolean;
}

const POLICIES: readonly EnvironmentPolicy[] = ['caller', 'inherit', 'user-baseline', 'clear'];

function collectEnv(value: string, previous: Array<{ key: string; value: string }>): Array<{ key: string; value: string }> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--env expects KEY=VALUE, got ${JSON.stringify(value)}`);
  return [...previous, { key: value.slice(0, eq), value: value.slice(eq + 1) }];
}

/** Adds --cwd, --env, --env-policy and --clear-env to a command. */
export function addSpawnFlags(cmd: Command): Command {
  return cmd
    .option('--cwd <dir>', 'working directory (default: the current directory; relative to it)')
    .option('--env <KEY=VALUE>', 'environment entry over the base environment, repeatable (last wins)', collectEnv, [])
    .option('--env-policy <policy>', 'base environment: caller (yours, the default), inherit (the daemon\'s), user-baseline (a login\'s: USER, HOME, SHELL, PATH, locale) or clear (only --env)')
    .option('--clear-env', 'same as --env-policy clear', false);
}

/** The library's spawn context options from the flags; throws naming a bad --env-policy. */
export function spawnContextOf(flags: SpawnFlagValues): { cwd?: string; env: Array<{ key: string; value: string }>; environmentPolicy: EnvironmentPolicy } {
  let policy: EnvironmentPolicy = 'caller';
  if (flags.envPolicy !== undefined) {
    if (!POLICIES.includes(flags.envPolicy as EnvironmentPolicy)) {
      throw new Error(`--env-policy must be ${POLICIES.join(', ')}, got ${JSON.stringify(flags.envPolicy)}`);
    }
    if (flags.clearEnv && flags.envPolicy !== 'clear') throw new Error(`--clear-env contradicts --env-policy ${flags.envPolicy}`);
    policy = flags.envPolicy as EnvironmentPolicy;
  } else if (flags.clearEnv) {
    policy = 'clear';
  }
  return { cwd: flags.cwd, env: flags.env, environmentPolicy: policy };
}

/**
 * A spawn that could not start, reported as a shell would (the reason on stderr, status 127 or
 * 126), or as a JSON result under --json. Null for any other error (the caller rethrows it).
 */
export function reportStartFailure(cmd: Command, err: unknown): number | null {
  const { startFailureExitCode } = require('../wire/errors') as typeof import('../wire/errors');
  const exitCode = startFailureExitCode(err);
  if (exitCode === null) return null;
  const message = (err as Error).message;
  const { globalsOf } = require('./context') as typeof import('./context');
  if (globalsOf(cmd).json) process.stdout.write(`${JSON.stringify({ started: false, exitCode, error: message }, null, 2)}\n`);
  else process.stderr.write(`runpm: ${message}\n`);
  return exitCode;
}

/** Runs a spawn; a start failure becomes its shell status (see reportStartFailure). */
export async function spawnOrStatus<T>(cmd: Command, spawn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; status: number }> {
  try {
    return { ok: true, value: await spawn() };
  } catch (err) {
    const status = reportStartFailure(cmd, err);
    if (status === null) throw err;
    return { ok: false, status };
  }
}
