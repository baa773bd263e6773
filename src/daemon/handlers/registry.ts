// Registry requests (types 10–12, 20–22, 30–31): register/unregister, detached daemons, listing,
// process trees, zombie reaping and tree kills. The work lives in src/registry and src/proc.
import { RequestType } from '../../wire/proto';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../../wire/errors';
import { unary, type DispatchEntry, type HandlerContext } from '../dispatch';
import type { Registry } from '../../registry/registry';
import { spawnDaemonProcess } from '../../registry/spawn-daemon';
import { renderProcessTree } from '../../proc/tree-text';
import { reportReaped } from '../../registry/reaper';
import { retryAfterEnospc } from '../emergency-reserve';

function registryOf(ctx: HandlerContext): Registry {
  if (!ctx.state.registry) throw new UnavailableError('the process registry is not open');
  return ctx.state.registry;
}

export const registryEntries: DispatchEntry[] = [
  unary(RequestType.REQUEST_TYPE_REGISTER, 'register', (req, ctx) => {
    // A disk-full write releases the emergency reserve and is retried once (the upsert is idempotent).
    retryAfterEnospc(ctx.state, `REGISTER pid ${req.pid}`, () => registryOf(ctx).register({
      pid: req.pid, createdAt: req.createdAt, kind: req.kind, command: req.command, cwd: req.cwd,
      originator: req.originator, containment: req.containment,
    }));
    return {};
  }),

  unary(RequestType.REQUEST_TYPE_UNREGISTER, 'unregister', (req, ctx) => {
    retryAfterEnospc(ctx.state, `UNREGISTER pid ${req.pid}`, () => registryOf(ctx).unregister(req.pid));
    return {};
  }),

  unary(RequestType.REQUEST_TYPE_SPAWN_DAEMON, 'spawnDaemon', async (req, ctx) => {
    const row = await spawnDaemonProcess(registryOf(ctx), {
      command: req.command, cwd: req.cwd, originator: req.originator, clearInheritedEnv: req.clearInheritedEnv,
      environmentPolicy: req.environmentPolicy,
      env: req.env.map((kv) => ({ key: kv.key ?? '', value: kv.value ?? '' })),
    }, { defaultEnv: ctx.state.config.defaultEnv, daemonCwd: ctx.state.cwd, scopeHash: ctx.state.config.paths.scopeHash, log: ctx.state.log });
    return {
      pid: row.pid, createdAt: row.createdAt, command: row.command, cwd: row.cwd,
      originator: row.originator, containment: row.containment,
    };
  }),

  unary(RequestType.REQUEST_TYPE_LIST_ACTIVE, 'listActive', async (req, ctx) => ({
    processes: await registryOf(ctx).list(null, req.includeUsage),
  })),

  unary(RequestType.REQUEST_TYPE_LIST_BY_ORIGINATOR, 'listByOriginator', async (req, ctx) => {
    if (req.tool === '') throw new InvalidArgumentError('tool must not be empty (originators look like TOOL:PID)');
    return { processes: await registryOf(ctx).list(req.tool, req.includeUsage) };
  }),

  unary(RequestType.REQUEST_TYPE_GET_PROCESS_TREE, 'getProcessTree', (req) => {
    if (!Number.isInteger(req.pid) || req.pid <= 0) throw new InvalidArgumentError(`pid must be a positive integer, got ${req.pid}`);
    const text = renderProcessTree(req.pid);
    if (text === null) throw new NotFoundError(`no process with pid ${req.pid}`);
    return { treeDisplay: text };
  }),

  unary(RequestType.REQUEST_TYPE_KILL_ZOMBIES, 'killZombies', async (req, ctx) => {
    const { outcomes, unknown } = await registryOf(ctx).killZombies(req.dryRun);
    if (!req.dryRun) reportReaped(ctx.state, outcomes, `kill-zombies (${ctx.clientLabel})`);
    if (unknown > 0) ctx.state.log.warn(`kill-zombies (${ctx.clientLabel}): ${unknown} row(s) could not be checked (the process table is unreadable now); kept`);
    return { zombies: outcomes.map((o) => ({ pid: o.pid, command: o.command, reason: o.reason, killed: o.killed })) };
  }),

  unary(RequestType.REQUEST_TYPE_KILL_TREE, 'killTree', async (req, ctx) => {
    const killed = await registryOf(ctx).killTree(req.pid, req.timeoutSeconds);
    ctx.state.log.info(`kill-tree pid ${req.pid} (${ctx.clientLabel}): ${killed} process(es) killed`);
    return { processesKilled: killed };
  }),
];
