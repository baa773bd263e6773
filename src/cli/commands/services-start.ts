// `runpm start` with pm2's semantics: `start SCRIPT... [-- ARGS]` (a file with its interpreter, or
// a command in PATH), `start FILE` for an ecosystem file or `start -` for one on stdin, and `start
// NAME|ID|NAMESPACE` restarting what exists. A script that runs already is refused without -f; a
// stopped one is restarted; an app that cannot spawn makes the command exit 1.
import * as fs from 'node:fs';
import type { DaemonClient } from '../../client/daemon-client';
import type { ServiceConfigInput, ServiceInfo } from '../../client/services-api';
import { planApp, type PlannedApp } from './pm2-app';
import { describeArgv } from './pm2-interpreter';
import { matchTarget } from './pm2-targets';
import { isEcosystemFile, planEcosystem, readEcosystem, type Ecosystem } from './services-ecosystem';

/** What a start or restart did, for the output and the exit code. */
export interface StartReport {
  started: ServiceInfo[];
  failed: Array<{ name: string; error: string }>;
}

/** The caller's part of a start: flags as pm2 app keys, and what they mean for the command. */
export interface StartRequest {
  /** pm2 app keys from the flags (only those given). */
  keys: Record<string, unknown>;
  envName?: string;
  only?: string[];
  updateEnv: boolean;
  force: boolean;
  warn(message: string): void;
}

/** Reads all of stdin (start - / delete -). */
export function readStdinText(): string {
  return fs.readFileSync(0, 'utf8');
}

/** Loads the ecosystem an operand names ("-" = stdin), or null when it is a script/target. */
export function ecosystemOf(operands: readonly string[], warn: (m: string) => void): Ecosystem | null {
  if (operands.length !== 1) return null;
  if (operands[0] === '-') return readEcosystem('-', warn, readStdinText());
  if (!isEcosystemFile(operands[0])) return null;
  return readEcosystem(operands[0], warn);
}

/** Flags applied over every app of a file: all of them, except a --name for a file of several apps. */
function overridesFor(eco: Ecosystem, req: StartRequest): Record<string, unknown> {
  const { name, ...rest } = req.keys;
  if (name !== undefined && eco.apps.length !== 1) throw new Error(`--name cannot rename the ${eco.apps.length} apps of ${eco.shown} (give each its name in the file)`);
  return name === undefined ? rest : { ...rest, name };
}

/** Every app of an ecosystem, planned with the request's flags. */
export function planFile(eco: Ecosystem, req: StartRequest): PlannedApp[] {
  return planEcosystem(eco, { envName: req.envName, only: req.only, overrides: overridesFor(eco, req), callerEnv: process.env, warn: req.warn });
}

function statusProblem(s: ServiceInfo): string | null {
  return s.status === 'errored' ? (s.lastError || 'errored') : null;
}

function record(report: StartReport, infos: ServiceInfo[]): void {
  for (const s of infos) {
    const problem = statusProblem(s);
    if (problem) report.failed.push({ name: s.name, error: problem });
    report.started.push(s);
  }
}

async function attempt(report: StartReport, name: string, fn: () => Promise<ServiceInfo[]>): Promise<void> {
  try {
    record(report, await fn());
  } catch (err) {
    report.failed.push({ name, error: (err as Error).message });
  }
}

/** `start FILE` / `restart FILE` / `reload FILE`: every app defined (or redefined) and (re)started. */
export async function startEcosystem(client: DaemonClient, apps: PlannedApp[], report: StartReport): Promise<void> {
  for (const app of apps) {
    await attempt(report, String(app.config.name), () => client.startServiceInstances(app.config, { restartExisting: true }));
  }
}

/**
 * A stored config with the flags of a restart applied, as pm2 applies a restart's options to the
 * app (`restart app.js --node-args=--harmony`, `restart 0 --name new`, `-- args`): each flag is read
 * by planApp as a start would read it, and what it changes (against the same script planned
 * without it) replaces the stored value; everything else stays as defined.
 */
function withRestartFlags(config: ServiceConfigInput, keys: Record<string, unknown>, req: StartRequest): ServiceConfigInput {
  const argv = describeArgv(config.cmd ?? []);
  const base = { script: argv.execPath, interpreter: argv.interpreter, args: argv.args, cwd: config.cwd };
  const ctx = { baseDir: config.cwd ?? process.cwd(), where: String(config.name), warn: req.warn, callerEnv: {} };
  // The stored interpreter options stay unless the flags give new ones (pm2 replaces node_args).
  const stored = { interpreter_args: argv.interpreterArgs };
  const replaced = keys.node_args !== undefined || keys.interpreter_args !== undefined;
  const before = planApp({ ...base, ...stored }, ctx);
  const after = planApp({ ...base, ...(replaced ? {} : stored), ...keys }, ctx);
  const out: Record<string, unknown> = { ...config };
  const was = before.config as Record<string, unknown>;
  for (const [field, value] of Object.entries(after.config as Record<string, unknown>)) {
    if (field === 'env' || field === 'execMode' || field === 'nodeArgsCount') continue;
    if (JSON.stringify(value) !== JSON.stringify(was[field])) out[field] = value;
  }
  // The node options now before the script (cluster mode needs their count).
  if (out.cmd !== config.cmd && config.execMode === 'cluster') out.nodeArgsCount = after.plan.interpreterArgs.length;
  if (keys.env !== undefined) out.env = { ...(config.env ?? {}), ...(keys.env as Record<string, string>) };
  // pm2's restart --watch toggles watching (God.toggleWatch); --watch PATHS sets what is watched.
  if (keys.watch === true) out.watch = config.watch !== true;
  return out as ServiceConfigInput;
}

/**
 * Restarts services (reload: cluster workers without downtime). With flags (pm2's `restart ID
 * --node-args ... --name ...`) or --update-env, each app is redefined with them first: --update-env
 * makes the caller's environment win over the stored one; a new --name renames the app.
 */
export async function restartServices(client: DaemonClient, targets: ServiceInfo[], req: StartRequest, report: StartReport, reload = false): Promise<void> {
  const keys = req.keys;
  const redefine = req.updateEnv || Object.keys(keys).length > 0;
  const seenNames = new Set<string>();
  for (const s of targets) {
    if (redefine) {
      // One redefinition per app (it restarts all its instances).
      if (seenNames.has(s.name)) continue;
      seenNames.add(s.name);
      await attempt(report, s.name, async () => {
        const full = await client.describeService(String(s.id));
        const env: Record<string, string> = { ...full.config.env };
        if (req.updateEnv) for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(RUNPM_SESSION_|RUNPM_SERVICE_|RUNNING_PROCESS_ORIGINATOR$)/.test(k)) env[k] = v;
        const config = withRestartFlags({ ...full.config, env }, keys, req);
        // A new --name renames the app, keeping its ids (pm2 keeps pm_id).
        return client.startServiceInstances(config, config.name !== full.config.name ? { renameFrom: full.config.name } : { restartExisting: true });
      });
      continue;
    }
    await attempt(report, s.name, async () => {
      await client.restartService(String(s.id), { reload });
      return [await client.describeService(String(s.id))];
    });
  }
}

/** True when the operand reads as a script path rather than an app name (pm2's test: a '/' or an extension). */
function looksLikePath(operand: string): boolean {
  return operand.includes('/') || /\.[^./]+$/.test(operand);
}

/**
 * `start OPERAND...`: each operand names an existing app (name, id, namespace: restarted) or a
 * script to start. Several operands are several scripts when each is a file or an app; otherwise
 * they are one command line (`runpm start sleep 60`).
 */
export async function startOperands(client: DaemonClient, operands: string[], scriptArgs: string[], req: StartRequest, report: StartReport): Promise<void> {
  const services = await client.listServices();
  const isApp = (o: string) => !looksLikePath(o) && matchTarget(o, services).length > 0 && o !== 'all';
  const isFile = (o: string) => {
    try {
      return fs.statSync(o).isFile();
    } catch {
      return false;
    }
  };
  const each = operands.length > 1 && operands.every((o) => isFile(o) || isApp(o));
  const groups = each || operands.length <= 1 ? operands.map((o) => [o]) : [operands];
  for (const group of groups) {
    const [first, ...rest] = group;
    if (group.length === 1 && (isApp(first) || first === 'all')) {
      const targets = matchTarget(first, services);
      if (targets.length === 0) {
        report.failed.push({ name: first, error: 'no services to act on (all: the list is empty)' });
        continue;
      }
      await restartServices(client, targets, req, report);
      continue;
    }
    if (/^\d+$/.test(first) && group.length === 1 && !isFile(first)) {
      report.failed.push({ name: first, error: `process ${first} not found` });
      continue;
    }
    let planned: PlannedApp;
    try {
      planned = planApp({ script: first, ...req.keys, args: [...rest, ...scriptArgs, ...((req.keys.args as string[] | undefined) ?? [])] }, {
        baseDir: process.cwd(), where: first, warn: req.warn, envName: req.envName, callerEnv: process.env,
      });
    } catch (err) {
      report.failed.push({ name: first, error: (err as Error).message });
      continue;
    }
    const name = String(planned.config.name);
    const same = services.filter((s) => s.name === name && describeArgv(s.config.cmd).execPath === planned.plan.execPath);
    if (same.length > 0 && same.every((s) => s.status === 'stopped' || s.status === 'errored' || s.status === 'stopping')) {
      await restartServices(client, same, req, report);
      continue;
    }
    const force = req.force || planned.force;
    if (same.length > 0 && !force) {
      report.failed.push({ name, error: `script already launched as ${name} (id ${same.map((s) => s.id).join(', ')}); add -f to start another copy` });
      continue;
    }
    const byName = services.filter((s) => s.name === name);
    if (byName.length > 0 && force) {
      // pm2's -f: more processes under the name, beside the ones there (left as they are).
      await attempt(report, name, () => client.startServiceInstances(planned.config, { addInstances: true }));
      continue;
    }
    if (byName.length > 0 && byName.some((s) => s.status !== 'stopped' && s.status !== 'errored')) {
      report.failed.push({ name, error: `an app named ${name} already runs ${describeArgv(byName[0].config.cmd).execPath}; choose another --name, or -f to add copies` });
      continue;
    }
    // A stopped app of that name running something else is redefined (pm2 would add a second app of one name).
    await attempt(report, name, () => client.startServiceInstances(planned.config, { restartExisting: byName.length > 0 }));
  }
}
