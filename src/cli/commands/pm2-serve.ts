// pm2 serve: a static file server run as an app (bin/runpm-serve, configured by pm2's
// PM2_SERVE_* variables), from `runpm serve [path] [port]`, an ecosystem file's `static` list, or
// an app whose script is "serve" (pm2's names for the same server).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** bin/runpm-serve of this checkout or install. */
export function serveScript(): string {
  const { binEntry } = require('../../client/connect') as typeof import('../../client/connect');
  return binEntry('runpm-serve');
}

export interface ServeOptions {
  path?: string;
  port?: string | number;
  spa?: boolean;
  homepage?: string;
  username?: string;
  password?: string;
  name?: string;
}

function portOf(value: string | number | undefined): number {
  if (value === undefined || value === '') return 8080;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`serve: port must be a number from 1 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

/** The app pm2 serve defines: static-page-server-<port> serving the directory (relative to baseDir). */
export function serveApp(o: ServeOptions, baseDir: string): Record<string, unknown> {
  const port = portOf(o.port);
  if ((o.username === undefined) !== (o.password === undefined)) throw new Error('serve: basic auth needs both a username and a password');
  const env: Record<string, string> = {
    PM2_SERVE_PATH: path.resolve(baseDir, o.path ?? '.'),
    PM2_SERVE_PORT: String(port),
    PM2_SERVE_SPA: String(o.spa === true),
    PM2_SERVE_HOMEPAGE: o.homepage ?? '/index.html',
  };
  if (o.username !== undefined) Object.assign(env, { PM2_SERVE_BASIC_AUTH: 'true', PM2_SERVE_BASIC_AUTH_USERNAME: o.username, PM2_SERVE_BASIC_AUTH_PASSWORD: o.password });
  return { name: o.name ?? `static-page-server-${port}`, script: serveScript(), interpreter: 'node', cwd: baseDir, env };
}

/** An ecosystem file's `static` entries (path, port, spa, homepage, basic_auth, name) as apps. */
export function staticApps(list: unknown, where: string, baseDir: string): Array<Record<string, unknown>> {
  const entries = Array.isArray(list) ? list : [list];
  return entries.map((e, i) => {
    if (!e || typeof e !== 'object') throw new Error(`${where}: static entry ${i} is not an object`);
    const s = e as Record<string, unknown>;
    const authOf = s.basic_auth as { username?: unknown; password?: unknown } | undefined;
    return serveApp({
      path: s.path === undefined ? undefined : String(s.path), port: s.port as number | undefined, spa: s.spa === true,
      homepage: s.homepage === undefined ? undefined : String(s.homepage), name: s.name === undefined ? undefined : String(s.name),
      username: authOf?.username === undefined ? undefined : String(authOf.username), password: authOf?.password === undefined ? undefined : String(authOf.password),
    }, baseDir);
  });
}

/** pm2's `script: "serve"` (when no file of that name is there): the static server, configured by the app's env. */
export function resolveServeScript(app: Record<string, unknown>, cwd: string): Record<string, unknown> {
  if (app.script !== 'serve' || fs.existsSync(path.join(cwd, 'serve'))) return app;
  return { ...app, script: serveScript(), interpreter: 'node' };
}
