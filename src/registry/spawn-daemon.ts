// SPAWN_DAEMON: starts a command through /bin/sh in its own session (setsid), stdio on
// /dev/null, registers it (kind `daemon`, containment `detached`) and unregisters it when it
// exits. The runpmd that spawned it stays its parent and sees the exit; after a daemon restart
// the reaper removes rows of children that died meanwhile. The child outlives the daemon. It
// carries RUNPM_DETACHED_SCOPE=<scope hash> from the fork on, so a daemon killed between the fork
// and the row's write leaves the next one a way to find and register it (detached-recovery.ts).
import { spawn } from 'node:child_process';
import { InvalidArgumentError, ResourceExhaustedError, isResourceErrno } from '../wire/errors';
import { withUserUmask } from '../scope/umask';
import { checkCwd, checkEnvEntries, checkNoNul, checkShellCommand, resolveCwd, type EnvEntry } from '../sessions/spawn-checks';
import { buildSpawnEnv, environmentPolicyOf } from '../sessions/spawn-env';
import { readProcStat, startTicksToEpochSeconds } from '../proc/process-table';
import type { Registry } from './registry';
import type { TrackedRow } from './registry-store';
import type { Logger } from '../daemon/log';
import { crashPoint } from '../daemon/crash-points';

/** Environment entry naming the scope of a SPAWN_DAEMON child (and, inherited, its descendants). */
export const DETACHED_SCOPE_ENV = 'RUNPM_DETACHED_SCOPE';

export interface SpawnDaemonInput {
  command: string;
  cwd: string;
  env: EnvEntry[];
  clearInheritedEnv: boolean;
  /** EnvironmentPolicy on the wire (0 = from clearInheritedEnv). */
  environmentPolicy: number;
  originator: string;
}

/** Spawns and registers the detached child; resolves once it runs (or rejects if it cannot start). */
export async function spawnDaemonProcess(
  registry: Registry, input: SpawnDaemonInput, opts: { defaultEnv: Array<{ key: string; value: string }>; daemonCwd: string; scopeHash: string; log: Logger },
): Promise<TrackedRow> {
  checkShellCommand(input.command);
  checkNoNul('originator', input.originator);
  checkEnvEntries(input.env);
  const policy = environmentPolicyOf(input.environmentPolicy, input.clearInheritedEnv);
  const cwd = resolveCwd(input.cwd, opts.daemonCwd);
  checkCwd(cwd);
  const env = buildSpawnEnv({
    policy, defaults: opts.defaultEnv, request: input.env,
    marks: { [DETACHED_SCOPE_ENV]: opts.scopeHash, ...(input.originator ? { RUNNING_PROCESS_ORIGINATOR: input.originator } : {}) },
  });

  const child = withUserUmask(() => spawn('/bin/sh', ['-c', input.command], { cwd, env, detached: true, stdio: 'ignore' }));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) => {
      const Refusal = isResourceErrno(err.code) ? ResourceExhaustedError : InvalidArgumentError;
      reject(new Refusal(`cannot start /bin/sh -c ${JSON.stringify(input.command)}: ${err.message}`));
    });
  });
  const pid = child.pid!;
  crashPoint('detached-spawned');
  // The child cannot have been reaped yet: its exit is handled on a later turn of the loop,
  // so /proc/<pid>/stat still exists (perhaps as a zombie) and gives the start time.
  const stat = readProcStat(pid);
  const startTicks = stat?.startTicks ?? 0;
  const now = Date.now() / 1000;
  const row: TrackedRow = {
    pid, startTicks, createdAt: stat ? startTicksToEpochSeconds(startTicks) : now, kind: 'daemon', command: input.command,
    cwd, originator: input.originator, containment: 'detached', registeredAt: now, lastValidatedAt: now,
  };
  registry.store.upsert(row);
  child.once('exit', (code, signal) => {
    try {
      registry.store.deleteIdentity(pid, startTicks);
    } catch {
      // Database already closed (daemon shutting down): the next daemon's start-up check drops the row.
    }
    opts.log.info(`detached daemon pid ${pid} exited (${signal ?? `code ${code}`}); unregistered`);
  });
  // The child must not keep runpmd's event loop alive; its exit is still reported while we run.
  child.unref();
  opts.log.info(`spawned detached daemon pid ${pid}: ${input.command}`);
  return row;
}
