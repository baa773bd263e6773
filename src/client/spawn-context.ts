// Where and with what environment a spawned command runs, on the client side: by default the
// caller's own working directory and environment, sent with the request (EnvironmentPolicy
// CALLER), so a command started through the daemon runs as if started from this process, like
// a shell's child. Shared by spawnPipe, spawnPty, exec and their attached variants.
import * as path from 'node:path';
import { pb } from '../wire/proto';

/**
 * The base environment of a spawned command: `caller` this process's environment (or
 * `callerEnv`), `inherit` the daemon's, `user-baseline` the user's login environment (USER, HOME,
 * SHELL, a default PATH, locale), `clear` nothing at all. `env` entries are applied on top.
 */
export type EnvironmentPolicy = 'caller' | 'inherit' | 'user-baseline' | 'clear';

/** Ordered entries (last wins) or a record (its order kept). */
export type EnvInput = Array<{ key: string; value: string }> | Record<string, string>;

export interface SpawnContextOptions {
  /** Working directory; relative to this process's cwd. Default: this process's cwd. */
  cwd?: string;
  /** Entries applied over the base environment (last wins). */
  env?: EnvInput;
  /** The base environment; default `caller` (or `clear` when clearInheritedEnv is set). */
  environmentPolicy?: EnvironmentPolicy;
  /** The environment `caller` sends; default process.env. */
  callerEnv?: NodeJS.ProcessEnv;
  /** Older form of environmentPolicy 'clear' (only the `env` entries). */
  clearInheritedEnv?: boolean;
}

/** The four wire fields a spawn request carries for its context. */
export interface SpawnContextPayload {
  cwd: string;
  env: Array<{ key: string; value: string }>;
  clearInheritedEnv: boolean;
  environmentPolicy: number;
}

const POLICY_TO_WIRE: Record<EnvironmentPolicy, number> = {
  caller: pb.EnvironmentPolicy.ENVIRONMENT_POLICY_CALLER,
  inherit: pb.EnvironmentPolicy.ENVIRONMENT_POLICY_INHERIT,
  'user-baseline': pb.EnvironmentPolicy.ENVIRONMENT_POLICY_USER_BASELINE,
  clear: pb.EnvironmentPolicy.ENVIRONMENT_POLICY_CLEAR,
};

/** Entries of an EnvInput in order. */
export function envEntries(env: EnvInput | undefined): Array<{ key: string; value: string }> {
  if (!env) return [];
  return Array.isArray(env) ? env : Object.entries(env).map(([key, value]) => ({ key, value }));
}

/** This process's working directory, or an error saying why there is none. */
function callerCwd(): string {
  try {
    return process.cwd();
  } catch (err) {
    throw new Error(`the current working directory is gone (${(err as NodeJS.ErrnoException).code}): pass cwd explicitly`);
  }
}

/**
 * The context fields of a spawn request. `omitCallerKeys` are left out of the caller's
 * environment (a PTY session has its own TERM and size).
 */
export function spawnContextPayload(opts: SpawnContextOptions, omitCallerKeys: readonly string[] = []): SpawnContextPayload {
  const policy: EnvironmentPolicy = opts.environmentPolicy ?? (opts.clearInheritedEnv ? 'clear' : 'caller');
  if (!(policy in POLICY_TO_WIRE)) {
    throw new Error(`environmentPolicy must be caller, inherit, user-baseline or clear, got ${JSON.stringify(policy)}`);
  }
  const base: Array<{ key: string; value: string }> = [];
  if (policy === 'caller') {
    for (const [key, value] of Object.entries(opts.callerEnv ?? process.env)) {
      if (value !== undefined && !omitCallerKeys.includes(key)) base.push({ key, value });
    }
  }
  const cwd = opts.cwd === undefined || !path.isAbsolute(opts.cwd) ? path.resolve(callerCwd(), opts.cwd ?? '.') : opts.cwd;
  return {
    cwd,
    env: [...base, ...envEntries(opts.env)],
    // Dual-written for daemons without environment_policy: CALLER reads there as "only env".
    clearInheritedEnv: policy === 'clear' || policy === 'caller',
    environmentPolicy: POLICY_TO_WIRE[policy],
  };
}
