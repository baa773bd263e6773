// Black-box: pm2 serve (issue 17): `runpm serve [path] [port]` runs a static file server as an
// app (static-page-server-<port>), with pm2's single-page mode, basic auth, 404.html on a miss, an
// ecosystem file's `static` list and `script: "serve"`; nothing outside the directory is served.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports';
import { startDaemon, waitFor, runCli, type TestDaemon } from '../helpers/daemon';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** GET a raw path (not normalised: "../" stays); null when nothing listens. */
function get(port: number, rawPath: string, auth?: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, agent: false, auth }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(null));
    req.end();
  });
}

async function served(port: number, rawPath: string, auth?: string): Promise<{ status: number; body: string }> {
  return waitFor(() => get(port, rawPath, auth), `an answer on port ${port} for ${rawPath}`);
}

describe('serve', () => {
  it('serves a directory as an app: index, files, 404.html, single-page mode, basic auth, static ecosystem entries; nothing outside', async () => {
    daemon = await startDaemon();
    const site = path.join(daemon.home, 'site');
    fs.mkdirSync(site);
    fs.writeFileSync(path.join(site, 'index.html'), '<p>home page</p>\n');
    fs.writeFileSync(path.join(site, 'other.html'), 'other\nfile\n');
    fs.writeFileSync(path.join(daemon.home, 'secret.txt'), 'outside the root\n');
    const env = daemon.env;
    const port = await freePort();
    const r = await runCli(['serve', site, String(port)], env);
    expect(r.code, r.stderr).toBe(0);
    const [app] = JSON.parse((await runCli(['jlist'], env)).stdout) as Array<{ name: string; pm2_env: { status: string } }>;
    expect([app.name, app.pm2_env.status]).toEqual([`static-page-server-${port}`, 'online']);
    expect(await served(port, '/')).toMatchObject({ status: 200, body: '<p>home page</p>\n' });
    expect(await served(port, '/other.html')).toMatchObject({ status: 200, body: 'other\nfile\n' });
    expect(await served(port, '/nope/other.html')).toMatchObject({ status: 404, body: '404 Not Found' });
    expect((await served(port, '/../secret.txt')).body).not.toContain('outside the root');
    expect((await served(port, '/%2e%2e/secret.txt')).body).not.toContain('outside the root');
    fs.writeFileSync(path.join(site, '404.html'), 'custom missing page');
    expect(await served(port, '/missing.html')).toMatchObject({ status: 404, body: 'custom missing page' });
    expect((await runCli(['delete', 'all'], env)).code).toBe(0);
    await waitFor(async () => (await get(port, '/')) === null, 'the server to stop with its app');

    // Single-page mode: a deep path serves its base name, else the homepage; basic auth.
    expect((await runCli(['serve', site, String(port), '--spa', '--basic-auth-username', 'u', '--basic-auth-password', 'p', '--name', 'front'], env)).code).toBe(0);
    expect((await served(port, '/index.html')).status).toBe(401);
    expect(await served(port, '/a/b/c', 'u:p')).toMatchObject({ status: 200, body: '<p>home page</p>\n' });
    expect(await served(port, '/a/b/other.html', 'u:p')).toMatchObject({ status: 200, body: 'other\nfile\n' });
    expect((await served(port, '/index.html', 'u:wrong')).status).toBe(401);
    expect((await runCli(['delete', 'front'], env)).code).toBe(0);

    // An ecosystem file's static list, and an app whose script is "serve".
    const eco = path.join(daemon.home, 'eco.json');
    const port2 = await freePort();
    fs.writeFileSync(eco, JSON.stringify({
      apps: [{ name: 'by-script', script: 'serve', env: { PM2_SERVE_PATH: site, PM2_SERVE_PORT: port2 } }],
      static: [{ path: './site', port, spa: true }],
    }));
    const started = await runCli(['start', eco], env);
    expect(started.code, started.stderr).toBe(0);
    expect(await served(port, '/x/y')).toMatchObject({ status: 200, body: '<p>home page</p>\n' });
    expect(await served(port2, '/other.html')).toMatchObject({ status: 200, body: 'other\nfile\n' });
  });

  it('bad input: a port that is no port, half of basic auth, --ftp and --monitor refused by name', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    for (const [args, text] of [
      [['serve', '.', '70000'], 'serve: port must be a number from 1 to 65535, got "70000"'],
      [['serve', '.', '8080', '--basic-auth-username', 'u'], 'serve: basic auth needs both a username and a password'],
      [['serve', '--ftp'], 'serve --ftp is not supported'],
      [['serve', '--monitor', 'x'], 'serve --monitor is not supported'],
    ] as const) {
      const r = await runCli([...args], env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(text);
    }
    expect(JSON.parse((await runCli(['jlist'], env)).stdout)).toEqual([]);
  });
});
