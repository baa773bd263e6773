// Ecosystem files for `runpm start FILE`: pm2's ecosystem.config.js / .json (apps[] with pm2's keys)
// and our runpm.config.json / .yaml / .toml (services[] with ServiceConfig's keys; pm2 keys work
// too). Turns each entry into a ServiceConfig, warning about keys it does not know. Read once per call.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ServiceConfigInput } from '../../client/services-api';

/** True when `file` looks like an ecosystem file rather than a program to run. */
export function isEcosystemFile(file: string): boolean {
  const base = path.basename(file);
  if (!/\.(c?js|mjs|json|ya?ml|toml)$/.test(base)) return false;
  return /^(ecosystem|runpm)\b/.test(base) || /\.config\.(c?js|mjs|json|ya?ml|toml)$/.test(base);
}

/** Keys we map, by their spelling (pm2 snake_case, ours snake_case, camelCase). */
const KNOWN_KEYS = new Set([
  'name', 'script', 'args', 'interpreter', 'interpreter_args', 'node_args', 'cmd', 'cwd', 'env', 'autorestart',
  'max_restarts', 'maxRestarts', 'restart_delay', 'restart_delay_ms', 'restartDelayMs', 'kill_timeout', 'kill_timeout_ms',
  'killTimeoutMs', 'min_uptime', 'min_uptime_ms', 'minUptimeMs', 'depends_on', 'dependsOn', 'log_max_bytes', 'logMaxBytes',
  'log_max_files', 'logMaxFiles',
]);

/** Parses "2000", 2000, "2s", "1.5m", "500ms" into milliseconds. */
function durationMs(value: unknown, key: string, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(String(value).trim());
  if (!m) throw new Error(`${where}: ${key} must be milliseconds or a duration like "2s", got ${JSON.stringify(value)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms']!;
  return Math.round(Number(m[1]) * unit);
}

/** Splits an args string like a shell would for plain words and quotes (no expansion). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  return out;
}

function pick(entry: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (entry[k] !== undefined) return entry[k];
  return undefined;
}

/** Interpreter pm2 would pick for a script by its extension (none: run it directly). */
function interpreterFor(script: string): string | null {
  if (/\.(c?js|mjs)$/.test(script)) return 'node';
  if (/\.py$/.test(script)) return 'python3';
  if (/\.sh$/.test(script)) return 'sh';
  return null;
}

/** The argv for running `script` with pm2's interpreter rules. */
export function scriptArgv(script: string, args: string[], interpreter?: string, interpreterArgs: string[] = []): string[] {
  const interp = interpreter === undefined ? interpreterFor(script) : interpreter === 'none' ? null : interpreter;
  return interp ? [interp, ...interpreterArgs, script, ...args] : [script, ...args];
}

/** One ecosystem entry → ServiceConfig; unknown keys go to warn. */
export function toServiceConfig(entry: Record<string, unknown>, baseDir: string, where: string, warn: (m: string) => void): ServiceConfigInput {
  for (const key of Object.keys(entry)) if (!KNOWN_KEYS.has(key)) warn(`${where}: unknown key '${key}' ignored`);
  const name = entry.name === undefined ? undefined : String(entry.name);
  const cwd = path.resolve(baseDir, String(entry.cwd ?? '.'));
  let cmd: string[];
  if (Array.isArray(entry.cmd)) cmd = entry.cmd.map(String);
  else if (typeof entry.cmd === 'string') cmd = splitArgs(entry.cmd);
  else if (entry.script !== undefined) {
    const rawArgs = entry.args;
    const args = Array.isArray(rawArgs) ? rawArgs.map(String) : typeof rawArgs === 'string' ? splitArgs(rawArgs) : [];
    const rawInterp = pick(entry, 'interpreter_args', 'node_args');
    const interpArgs = Array.isArray(rawInterp) ? rawInterp.map(String) : typeof rawInterp === 'string' ? splitArgs(rawInterp) : [];
    const script = String(entry.script);
    // pm2 resolves a script that is a path relative to the app's cwd; a bare command stays as it is.
    const resolved = script.includes('/') || fs.existsSync(path.join(cwd, script)) ? path.resolve(cwd, script) : script;
    cmd = scriptArgv(resolved, args, entry.interpreter === undefined ? undefined : String(entry.interpreter), interpArgs);
  } else throw new Error(`${where}: needs 'script' (pm2) or 'cmd'`);
  const env: Record<string, string> = {};
  if (entry.env !== undefined) {
    if (!entry.env || typeof entry.env !== 'object') throw new Error(`${where}: env must be an object`);
    for (const [k, v] of Object.entries(entry.env as Record<string, unknown>)) env[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const deps = pick(entry, 'depends_on', 'dependsOn');
  const config: ServiceConfigInput = {
    name: name ?? path.basename(cmd[cmd.length > 1 && interpreterFor(cmd[1]) ? 1 : 0] ?? 'app').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '_'),
    cmd,
    cwd,
    env,
    autorestart: entry.autorestart === undefined ? true : entry.autorestart !== false && entry.autorestart !== 'false',
    maxRestarts: Number(pick(entry, 'max_restarts', 'maxRestarts') ?? 0),
    restartDelayMs: durationMs(pick(entry, 'restart_delay', 'restart_delay_ms', 'restartDelayMs'), 'restart_delay', where) ?? 0,
    killTimeoutMs: durationMs(pick(entry, 'kill_timeout', 'kill_timeout_ms', 'killTimeoutMs'), 'kill_timeout', where) ?? 0,
    minUptimeMs: durationMs(pick(entry, 'min_uptime', 'min_uptime_ms', 'minUptimeMs'), 'min_uptime', where) ?? 0,
    dependsOn: deps === undefined ? [] : (Array.isArray(deps) ? deps : [deps]).map(String),
    logMaxBytes: Number(pick(entry, 'log_max_bytes', 'logMaxBytes') ?? 0),
    logMaxFiles: Number(pick(entry, 'log_max_files', 'logMaxFiles') ?? 0),
  };
  return config;
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
    process.stdout.write(JSON.stringify(v === undefined ? null : v));
  })
  .catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(3); });
`;

/**
 * Evaluates a JS ecosystem file like pm2 does (with the caller's environment and cwd), but in a
 * child process with a time limit: a file that loops forever or waits on something fails with a
 * clear error instead of hanging `runpm start`.
 */
function evaluateJsConfig(abs: string, shown: string): unknown {
  const timeoutMs = Number(process.env.RUNPM_ECOSYSTEM_TIMEOUT_MS) || ECOSYSTEM_JS_TIMEOUT_MS;
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, ['-e', JS_CONFIG_LOADER, abs], {
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

/** Reads an ecosystem file (JS is evaluated like pm2 does; YAML/TOML parsers load only here). */
export function loadEcosystem(file: string, warn: (m: string) => void): ServiceConfigInput[] {
  const abs = path.resolve(file);
  let data: unknown;
  if (/\.(c?js|mjs)$/.test(abs)) {
    data = evaluateJsConfig(abs, file);
  } else {
    const text = fs.readFileSync(abs, 'utf8');
    try {
      if (/\.json$/.test(abs)) data = JSON.parse(text);
      else if (/\.ya?ml$/.test(abs)) data = (require('yaml') as typeof import('yaml')).parse(text);
      else data = (require('smol-toml') as typeof import('smol-toml')).parse(text);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }
  const d = data as { apps?: unknown; services?: unknown; default?: unknown } | unknown[];
  const root = !Array.isArray(d) && d && typeof d === 'object' && 'default' in d && d.default ? d.default : d;
  const list = Array.isArray(root) ? root : (root as { apps?: unknown; services?: unknown })?.apps ?? (root as { services?: unknown })?.services;
  if (!Array.isArray(list)) throw new Error(`${file}: expected an 'apps' (pm2) or 'services' list`);
  if (root && typeof root === 'object' && !Array.isArray(root)) {
    for (const key of Object.keys(root)) if (key !== 'apps' && key !== 'services') warn(`${file}: unknown top-level key '${key}' ignored`);
  }
  return list.map((entry, i) => {
    if (!entry || typeof entry !== 'object') throw new Error(`${file}: entry ${i} is not an object`);
    return toServiceConfig(entry as Record<string, unknown>, path.dirname(abs), `${file}: app ${i}${(entry as { name?: string }).name ? ` (${(entry as { name?: string }).name})` : ''}`, warn);
  });
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
