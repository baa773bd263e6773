// Builds a spawned child's environment from its EnvironmentPolicy: a base (the daemon's own
// environment without the daemon's variables, the user's login baseline, or nothing), the daemon's
// --env defaults beneath the request (except under CLEAR), the request's entries in order (last
// wins), then the daemon's marks (RUNPM_SESSION_ID, RUNPM_SERVICE_*, ...), which nobody else sets.
// Shared by pipe sessions, PTY sessions, SPAWN_DAEMON and services; runs once per spawn.
import * as os from 'node:os';
import { InvalidArgumentError } from '../wire/errors';
import { pb } from '../wire/proto';
import { checkEnvEntries, type CheckContext, type EnvEntry } from './spawn-checks';

export type { EnvEntry } from './spawn-checks';
export { checkEnvKey } from './spawn-checks';

/**
 * Where a child's environment starts (EnvironmentPolicy on the wire): `inherit` the daemon's,
 * `user-baseline` the user's login environment, `clear` nothing (and no daemon defaults), `caller`
 * nothing of the daemon's, because the request carries the client's own environment.
 */
export type EnvironmentPolicyName = 'inherit' | 'user-baseline' | 'clear' | 'caller';

/** PATH of the user baseline (a login's default on Linux and macOS). */
export const BASELINE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Variables of the daemon's own that never reach a child from the daemon's environment: where it
 * lives (RUNPM_HOME, RUNPM_SCOPE, ...), test switches, and the marks the daemon sets per child.
 */
export function isDaemonOwnVariable(key: string): boolean {
  return key.startsWith('RUNPM_') || key === 'RUNNING_PROCESS_ORIGINATOR';
}

/** The marks the daemon sets on every child it starts; a request cannot set them. */
const MARK_KEYS = new Set(['RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE', 'RUNNING_PROCESS_ORIGINATOR', 'RUNPM_SERVICE_NAME', 'RUNPM_SERVICE_ID', 'RUNPM_SERVICE_SCOPE', 'RUNPM_SERVICE_RUN', 'RUNPM_DETACHED_SCOPE']);

/**
 * The policy a request asks for. UNSPECIFIED keeps the old boolean (clear_inherited_env false =
 * inherit, true = clear); an explicit policy wins over the boolean, which new clients dual-write.
 */
export function environmentPolicyOf(value: number, clearInheritedEnv: boolean, ctx: CheckContext & { field?: string } = {}): EnvironmentPolicyName {
  const P = pb.EnvironmentPolicy;
  switch (value) {
    case P.ENVIRONMENT_POLICY_UNSPECIFIED: return clearInheritedEnv ? 'clear' : 'inherit';
    case P.ENVIRONMENT_POLICY_INHERIT: return 'inherit';
    case P.ENVIRONMENT_POLICY_USER_BASELINE: return 'user-baseline';
    case P.ENVIRONMENT_POLICY_CLEAR: return 'clear';
    case P.ENVIRONMENT_POLICY_CALLER: return 'caller';
    default:
      throw new InvalidArgumentError(`${ctx.where ?? ''}${ctx.field ?? 'environment_policy'} must be INHERIT, USER_BASELINE, CLEAR or CALLER, got ${value}`);
  }
}

/** The wire value of a policy name. */
export function environmentPolicyToWire(policy: EnvironmentPolicyName): number {
  const P = pb.EnvironmentPolicy;
  switch (policy) {
    case 'inherit': return P.ENVIRONMENT_POLICY_INHERIT;
    case 'user-baseline': return P.ENVIRONMENT_POLICY_USER_BASELINE;
    case 'clear': return P.ENVIRONMENT_POLICY_CLEAR;
    case 'caller': return P.ENVIRONMENT_POLICY_CALLER;
  }
}

/** An environment without the daemon's own variables (isDaemonOwnVariable). */
export function withoutDaemonVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !isDaemonOwnVariable(k)) out[k] = v;
  return out;
}

/** process.env copied once without the daemon's own variables (reading it costs a getenv() per variable). */
let daemonEnvCopy: Record<string, string> | null = null;

/** The daemon's environment as children may inherit it, copied on first use (nothing changes it later). */
export function daemonEnv(): Readonly<Record<string, string>> {
  if (daemonEnvCopy === null) daemonEnvCopy = withoutDaemonVariables(process.env);
  return daemonEnvCopy;
}

/** Locale, time zone and temporary directory: what the user baseline carries over from the daemon. */
function isCarriedToBaseline(key: string): boolean {
  return key === 'LANG' || key === 'LANGUAGE' || key.startsWith('LC_') || key === 'TZ' || key === 'TMPDIR';
}

let baselineCopy: Record<string, string> | null = null;

/**
 * The logged-in user's login environment, rebuilt from the passwd entry (a Unix has no API that
 * gives it): USER, LOGNAME, HOME, SHELL, a default PATH, and the daemon's locale, TZ and TMPDIR.
 * Without a passwd entry (a uid no database knows) it is the daemon's environment.
 */
export function userBaselineEnv(): Readonly<Record<string, string>> {
  if (baselineCopy !== null) return baselineCopy;
  let user: os.UserInfo<string>;
  try {
    user = os.userInfo();
  } catch {
    baselineCopy = { ...daemonEnv() };
    return baselineCopy;
  }
  const env: Record<string, string> = {
    USER: user.username, LOGNAME: user.username, HOME: user.homedir, SHELL: user.shell ?? '/bin/sh', PATH: BASELINE_PATH,
  };
  for (const [k, v] of Object.entries(daemonEnv())) if (isCarriedToBaseline(k)) env[k] = v;
  baselineCopy = env;
  return env;
}

export interface SpawnEnvOptions {
  policy: EnvironmentPolicyName;
  /** DaemonConfig.defaultEnv: beneath the request under every policy but `clear`. */
  defaults: readonly EnvEntry[];
  /** The request's ordered entries (for `caller`, the client's environment first). */
  request: readonly EnvEntry[];
  /** The daemon's marks for this child, set last. */
  marks?: Record<string, string>;
  /** Prefix for error messages. */
  where?: string;
  /** The bases in place of the daemon's own (unit tests). */
  bases?: { inherit: Readonly<Record<string, string>>; userBaseline: Readonly<Record<string, string>> };
}

/** The base environment a policy starts from (a fresh copy). */
function baseOf(opts: SpawnEnvOptions): Record<string, string> {
  if (opts.policy === 'inherit') return { ...(opts.bases?.inherit ?? daemonEnv()) };
  if (opts.policy === 'user-baseline') return { ...(opts.bases?.userBaseline ?? userBaselineEnv()) };
  return {};
}

/** Runs once per spawn: the final environment. Throws INVALID_ARGUMENT naming a bad entry. */
export function buildSpawnEnv(opts: SpawnEnvOptions): Record<string, string> {
  checkEnvEntries(opts.request, { where: opts.where });
  const env = baseOf(opts);
  if (opts.policy !== 'clear') for (const { key, value } of opts.defaults) env[key] = value;
  for (const { key, value } of opts.request) env[key] = value;
  // Marks come from this daemon only: a caller's own (it may itself run in a session or a
  // service) would make the child look like somebody else's.
  for (const key of MARK_KEYS) delete env[key];
  if (opts.marks) Object.assign(env, opts.marks);
  return env;
}

/**
 * The marks of a session's child: its id, the daemon's scope hash (RUNPM_SESSION_SCOPE: a crashed
 * daemon's successor finds its children by it) and the originator tag (set even when empty, so
 * children see the tag).
 */
export function sessionMarks(sessionId: string, scope: string, originator: string): Record<string, string> {
  return { RUNPM_SESSION_ID: sessionId, RUNPM_SESSION_SCOPE: scope, RUNNING_PROCESS_ORIGINATOR: originator };
}
