// Turns an argv spawn request (pipe or PTY session) into what to start: checked argv, the
// absolute working directory, the final environment and the program file found the way a shell
// finds it. One function for both session kinds, so they check and refuse the same way.
import {
  checkArgvSpawnFields, checkCwd, resolveCwd, resolveProgram, type EnvEntry,
} from './spawn-checks';
import { buildSpawnEnv, environmentPolicyOf, sessionMarks } from './spawn-env';
import { checkExecSize } from './exec-size';

/** The spawn fields pipe and PTY requests share, as decoded from the wire. */
export interface ArgvSpawnRequest {
  argv: readonly string[];
  cwd: string;
  env: ReadonlyArray<{ key?: string | null; value?: string | null }>;
  clearInheritedEnv: boolean;
  environmentPolicy: number;
  originator: string;
}

export interface SpawnPlanOptions {
  sessionId: string;
  /** The daemon's scope hash (RUNPM_SESSION_SCOPE). */
  sessionScope: string;
  /** The daemon's working directory: what "" and relative cwds resolve against. */
  daemonCwd: string;
  /** DaemonConfig.defaultEnv. */
  defaults: readonly EnvEntry[];
  /** Entries beneath the request's own, above the daemon's defaults (a PTY's TERM). */
  kindDefaults?: readonly EnvEntry[];
}

/** What to start: every field checked. */
export interface SpawnPlan {
  argv: string[];
  /** The executable argv[0] names (absolute). */
  file: string;
  cwd: string;
  env: Record<string, string>;
}

/** Checks the request and plans the spawn; throws INVALID_ARGUMENT, COMMAND_NOT_FOUND, COMMAND_NOT_EXECUTABLE or RESOURCE_EXHAUSTED (E2BIG). */
export function planArgvSpawn(req: ArgvSpawnRequest, opts: SpawnPlanOptions): SpawnPlan {
  const request = req.env.map((kv) => ({ key: kv.key ?? '', value: kv.value ?? '' }));
  const argv = checkArgvSpawnFields({ argv: req.argv, cwd: req.cwd, env: request, originator: req.originator });
  const policy = environmentPolicyOf(req.environmentPolicy, req.clearInheritedEnv);
  const cwd = resolveCwd(req.cwd, opts.daemonCwd);
  checkCwd(cwd);
  const kindDefaults = (opts.kindDefaults ?? []).filter((d) => !request.some((kv) => kv.key === d.key));
  const env = buildSpawnEnv({
    policy,
    defaults: opts.defaults,
    request: [...kindDefaults, ...request],
    marks: sessionMarks(opts.sessionId, opts.sessionScope, req.originator),
  });
  const { file } = resolveProgram(argv[0]!, cwd, env.PATH);
  checkExecSize(file, argv, env);
  return { argv, file, cwd, env };
}
