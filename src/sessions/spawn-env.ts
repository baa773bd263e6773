// Builds a spawned child's environment: the daemon's own environment, then the daemon's
// --env defaults, then the request's entries in order (last wins); clear_inherited_env starts
// from nothing instead. Shared by pipe sessions, PTY sessions and services, with the cwd check both session kinds make.
import * as fs from 'node:fs';
import { InvalidArgumentError } from '../wire/errors';

export interface EnvEntry {
  key: string;
  value: string;
}

export interface SpawnEnvOptions {
  /** The daemon's environment (process.env). */
  base: NodeJS.ProcessEnv;
  /** DaemonConfig.defaultEnv. */
  defaults: readonly EnvEntry[];
  /** The request's ordered entries. */
  request: readonly EnvEntry[];
  /** Replace instead of layering: the child gets only the request's entries (and the marks below). */
  clearInherited: boolean;
  /** Set as RUNPM_SESSION_ID when given. */
  sessionId?: string;
  /** Set as RUNPM_SESSION_SCOPE when given: the daemon's scope hash, by which a crashed daemon's successor finds its children. */
  sessionScope?: string;
  /** Set as RUNNING_PROCESS_ORIGINATOR when given (even empty, so children see the tag). */
  originator?: string;
}

/** Rejects a key a child environment cannot carry; names it in the message. */
export function checkEnvKey(key: string, where: string): void {
  if (key === '' || key.includes('=') || key.includes('\0')) {
    throw new InvalidArgumentError(`${where}: environment key ${JSON.stringify(key)} is empty or contains '=' or NUL`);
  }
}

/** process.env copied once: reading it goes through getenv() per variable (~30 µs a spawn). */
let daemonEnvCopy: Record<string, string> | null = null;

/** The daemon's own environment as a plain object, copied on first use (nothing changes it later). */
export function daemonEnv(): Readonly<Record<string, string>> {
  if (daemonEnvCopy === null) {
    daemonEnvCopy = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) daemonEnvCopy[k] = v;
  }
  return daemonEnvCopy;
}

/** Runs once per spawn: the final environment, with the session marks set last. */
export function buildSpawnEnv(opts: SpawnEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (!opts.clearInherited) {
    if (opts.base === process.env) Object.assign(env, daemonEnv());
    else for (const [k, v] of Object.entries(opts.base)) if (v !== undefined) env[k] = v;
    for (const { key, value } of opts.defaults) env[key] = value;
  }
  for (const { key, value } of opts.request) {
    checkEnvKey(key, 'env');
    if (value.includes('\0')) throw new InvalidArgumentError(`env: value of ${JSON.stringify(key)} contains NUL`);
    env[key] = value;
  }
  if (opts.sessionId !== undefined) env.RUNPM_SESSION_ID = opts.sessionId;
  if (opts.sessionScope !== undefined) env.RUNPM_SESSION_SCOPE = opts.sessionScope;
  if (opts.originator !== undefined) env.RUNNING_PROCESS_ORIGINATOR = opts.originator;
  return env;
}

/** Throws INVALID_ARGUMENT naming the directory when cwd is missing or not a directory (both session kinds). */
export function checkSpawnCwd(cwd: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(cwd);
  } catch {
    throw new InvalidArgumentError(`cwd ${JSON.stringify(cwd)} does not exist`);
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`cwd ${JSON.stringify(cwd)} is not a directory`);
}
