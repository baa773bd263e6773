// Ecosystem files for `runpm start FILE`: pm2's (ecosystem.config.js, *.config.js/.cjs/.mjs, any
// .json / .json5 / .yaml / .yml such as pm2-ecosystem.json or apps.yaml, or JSON on stdin with "-")
// and ours (runpm.config.json/.yaml/.toml with services[] and ServiceConfig's keys). The list is
// apps[] (also pm2[] or services[], a bare list, or one app object). Each entry goes through
// planApp (pm2's keys with pm2's meaning). Read once per call.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ServiceConfigInput } from '../../client/services-api';
import { planApp, splitArgs, type AppContext, type PlannedApp } from './pm2-app';

export { splitArgs };

/** True when `file` is read as an ecosystem file rather than run as a script (pm2's rule, plus TOML). */
export function isEcosystemFile(file: string): boolean {
  const base = path.basename(file);
  if (/\.(json|json5|ya?ml|toml)$/i.test(base)) return true;
  return /\.config\.(c?js|mjs)$/.test(base) || /^(ecosystem|runpm)\b.*\.(c?js|mjs)$/.test(base);
}

/** How long a JS ecosystem file may take to evaluate (RUNPM_ECOSYSTEM_TIMEOUT_MS overrides). */
export const ECOSYSTEM_JS_TIMEOUT_MS = 10_000;
/** Largest JSON a JS ecosystem file may produce. */
const MAX_ECOSYSTEM_JSON_BYTES = 16 * 1024 * 1024;

/** Runs in the child: loads the file (CommonJS or ES module) and prints its export as JSON. */
const JS_CONFIG_LOADER = `
const { pathToFileURL } = require('node:url');
import(pathToFileURL(process.argv[1]).href)
  .then((m) => {
    const v = m && m.default !== undefined ? m.default : m;
    return Promise.resolve(v);
  })
  .then((v) => process.stdout.write(JSON.stringify(v === undefined ? null : v)))
  .catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(3); });
`;

/** Runs in the child: a .json file that is not JSON (comments, expressions) read as a JS expression, as pm2 does. */
const JSON5_LOADER = `
const text = require('node:fs').readFileSync(process.argv[1], 'utf8');
try {
  const v = require('node:vm').runInNewContext('(' + text + '\\n)', {}, { filename: process.argv[1], timeout: 5000 });
  process.stdout.write(JSON.stringify(v === undefined ? null : v));
} catch (err) { process.stderr.write(String(err && err.message || err)); process.exit(3); }
`;

/**
 * Evaluates a JS ecosystem file like pm2 does (with the caller's environment and cwd), but in a
 * child process with a time limit: a file that loops forever or waits on something fails with a
 * clear error instead of hanging `runpm start`.
 */
function evaluateInChild(loader: string, abs: string, shown: string): unknown {
  const timeoutMs = Number(process.env.RUNPM_ECOSYSTEM_TIMEOUT_MS) || ECOSYSTEM_JS_TIMEOUT_MS;
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, ['-e', loader, abs], {
    encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_ECOSYSTEM_JSON_BYTES, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw new Error(`${shown}: evaluating the file took longer than ${timeoutMs} ms (stopped; set RUNPM_ECOSYSTEM_TIMEOUT_MS to allow more)`);
  }
  if (r.error) throw new Error(`${shown}: cannot evaluate it: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${shown}: ${(r.stderr || `exited with code ${r.status}`).trim().split('\n').slice(0, 6).join('\n')}`);
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`${shown}: its export cannot be read as JSON: ${(err as Error).message}`);
  }
}

/** Parses an ecosystem file's data (JS is evaluated like pm2 does; YAML/TOML parsers load only here). */
function readData(file: string, text?: string): unknown {
  const abs = path.resolve(file);
  if (text === undefined && /\.(c?js|mjs)$/.test(abs)) return evaluateInChild(JS_CONFIG_LOADER, abs, file);
  let body: string;
  try {
    body = text ?? fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read it: ${(err as Error).message}`);
  }
  try {
    if (/\.ya?ml$/i.test(abs)) return (require('yaml') as typeof import('yaml')).parse(body);
    if (/\.toml$/i.test(abs)) return (require('smol-toml') as typeof import('smol-toml')).parse(body);
    return JSON.parse(body);
  } catch (err) {
    if (text !== undefined || !/\.json5?$/i.test(abs)) throw new Error(`${file}: ${(err as Error).message}`);
  }
  // Not strict JSON: pm2 reads .json files as JavaScript expressions too (comments, unquoted keys).
  return evaluateInChild(JSON5_LOADER, abs, file);
}

/** The apps of an ecosystem file (or of JSON text read from stdin: file "-"). */
export interface Ecosystem {
  apps: Array<Record<string, unknown>>;
  deploy: Record<string, { env?: Record<string, unknown> }>;
  baseDir: string;
  shown: string;
}

const TOP_LEVEL_KEYS = new Set(['apps', 'pm2', 'services', 'deploy', 'static']);

/** Reads an ecosystem file; `text` is its content when it came on stdin. */
export function readEcosystem(file: string, warn: (m: string) => void, text?: string): Ecosystem {
  const shown = text === undefined ? file : '(stdin)';
  const data = readData(text === undefined ? file : 'stdin.json', text);
  const root = data && typeof data === 'object' && !Array.isArray(data) && 'default' in data && (data as { default: unknown }).default
    ? (data as { default: unknown }).default : data;
  let list: unknown;
  let deploy: unknown = {};
  if (Array.isArray(root)) list = root;
  else if (root && typeof root === 'object') {
    const r = root as Record<string, unknown>;
    list = r.apps ?? r.pm2 ?? r.services;
    deploy = r.deploy ?? {};
    // pm2's static file servers (pm2 serve) beside the apps.
    if (r.static !== undefined) {
      const { staticApps } = require('./pm2-serve') as typeof import('./pm2-serve');
      const servers = staticApps(r.static, shown, text === undefined ? path.dirname(path.resolve(file)) : process.cwd());
      list = list === undefined ? servers : [...(Array.isArray(list) ? list : [list]), ...servers];
    }
    if (list === undefined && (r.script !== undefined || r.cmd !== undefined)) list = [r];
    else for (const key of Object.keys(r)) if (!TOP_LEVEL_KEYS.has(key)) warn(`${shown}: unknown top-level key '${key}' ignored`);
  }
  if (list !== undefined && !Array.isArray(list)) list = [list];
  if (!Array.isArray(list)) throw new Error(`${shown}: expected an 'apps' (pm2) or 'services' list`);
  list.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object') throw new Error(`${shown}: entry ${i} is not an object`);
  });
  return {
    apps: list as Array<Record<string, unknown>>,
    deploy: deploy && typeof deploy === 'object' ? deploy as Ecosystem['deploy'] : {},
    baseDir: text === undefined ? path.dirname(path.resolve(file)) : process.cwd(),
    shown,
  };
}

/** Options of a start from a file: --env NAME, --only a,b, flags applied over every app. */
export interface EcosystemStartOptions {
  envName?: string;
  only?: string[];
  /** pm2 keys from the command line, applied over each app's own. */
  overrides?: Record<string, unknown>;
  callerEnv: NodeJS.ProcessEnv;
  warn(message: string): void;
}

/** Plans every app of a file (or only those named by --only, which must exist). */
export function planEcosystem(eco: Ecosystem, opts: EcosystemStartOptions): PlannedApp[] {
  const planned = eco.apps.map((entry, i) => {
    const where = `${eco.shown}: app ${i}${entry.name ? ` (${String(entry.name)})` : ''}`;
    const ctx: AppContext = {
      baseDir: eco.baseDir, where, warn: opts.warn, envName: opts.envName, callerEnv: opts.callerEnv,
      deployEnv: opts.envName ? eco.deploy[opts.envName]?.env : undefined,
    };
    return planApp({ ...entry, ...(opts.overrides ?? {}) }, ctx);
  });
  if (!opts.only || opts.only.length === 0) return orderPlanned(planned);
  const names = new Set(planned.map((p) => p.config.name));
  for (const o of opts.only) if (!names.has(o)) throw new Error(`${eco.shown}: --only ${o}: no app of that name in the file (apps: ${[...names].join(', ')})`);
  return orderPlanned(planned.filter((p) => opts.only!.includes(String(p.config.name))));
}

function orderPlanned(apps: PlannedApp[]): PlannedApp[] {
  const order = orderByDependencies(apps.map((a) => a.config));
  return order.map((c) => apps.find((a) => a.config === c)!);
}

/** Orders configs so that dependencies within the file come first; a cycle throws naming it. */
export function orderByDependencies(configs: ServiceConfigInput[]): ServiceConfigInput[] {
  const byName = new Map(configs.map((c) => [c.name!, c]));
  const out: ServiceConfigInput[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: ServiceConfigInput, trail: string[]) => {
    const s = state.get(c.name!);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`dependency cycle: ${[...trail.slice(trail.indexOf(c.name!)), c.name].join(' -> ')}`);
    state.set(c.name!, 'visiting');
    for (const dep of c.dependsOn ?? []) {
      const d = byName.get(dep);
      if (d) visit(d, [...trail, c.name!]);
    }
    state.set(c.name!, 'done');
    out.push(c);
  };
  for (const c of configs) visit(c, []);
  return out;
}
