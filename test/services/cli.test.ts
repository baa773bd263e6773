// Black-box: the runpm service commands as a user runs them (bin/runpm against a real daemon):
// pm2 ecosystem files, our YAML/TOML files, the list table and JSON, logs, save/resurrect, startup.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, runCli, waitFor, ROOT, RUNPM, type TestDaemon } from '../helpers/daemon';
import { waitStatus } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('runpm service commands', () => {
  it('starts the three apps of a pm2 ecosystem.config.js, warns on unknown keys, and lists them without env values', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'server.js'), 'console.log("server up", process.env.PORT); setInterval(() => {}, 1000);\n');
    fs.writeFileSync(path.join(dir, 'ecosystem.config.js'), `module.exports = {
  apps: [
    { name: 'api', script: './server.js', env: { PORT: '3000', API_SECRET: 'hunter2' }, max_restarts: 5, restart_delay: 100, min_uptime: '1s', colour: 'blue' },
    { name: 'worker', script: 'sleep', args: '60', interpreter: 'none', kill_timeout: 500 },
    { name: 'cron', script: 'sh', args: ['-c', 'echo tick; exec sleep 60'], autorestart: false },
  ],
};\n`);
    const r = await runCli(['start', path.join(dir, 'ecosystem.config.js')], daemon.env);
    expect(r.stderr).toContain("unknown key 'colour'");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n0\s+api\s+/);
    const services = await daemon.client.listServices();
    expect(services.map((s) => s.name)).toEqual(['api', 'worker', 'cron']);
    expect(services.every((s) => s.pid > 0)).toBe(true);
    const api = await daemon.client.describeService('api');
    expect(api.config.cmd).toEqual(['node', path.join(dir, 'server.js')]);
    expect(api.config).toMatchObject({ cwd: dir, maxRestarts: 5, restartDelayMs: 100, minUptimeMs: 1000, autorestart: true });
    const worker = (await daemon.client.describeService('worker')).config;
    expect(worker.cmd[0]).toMatch(/\/sleep$/);
    expect(worker).toMatchObject({ cmd: [worker.cmd[0], '60'], killTimeoutMs: 500 });
    expect((await daemon.client.describeService('cron')).config.autorestart).toBe(false);
    await waitFor(() => fs.readFileSync(api.outLogPath, 'utf8').includes('server up 3000'), 'api output');

    const jlist = await runCli(['jlist'], daemon.env);
    expect(jlist.stdout).not.toContain('hunter2');
    const parsed = JSON.parse(jlist.stdout) as Array<{ pm_id: number; name: string; pm2_env: { restart_time: number } }>;
    expect(parsed.map((s) => [s.pm_id, s.name, s.pm2_env.restart_time]), jlist.stdout).toEqual([[0, 'api', 0], [1, 'worker', 0], [2, 'cron', 0]]);
    const listJson = await runCli(['list', '--json'], daemon.env);
    expect(listJson.stdout).not.toContain('hunter2');
    // Piped: a plain table, no colour codes.
    const table = await runCli(['ls'], daemon.env);
    expect(table.code).toBe(0);
    expect(table.stdout).not.toContain('\x1b[');
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+name\s+status\s+pid\s+uptime\s+↺\s+cpu\s+mem$/);
    expect(table.stdout).toMatch(/\n0\s+api\s+(starting|online)\s+\d+/);
    const describe = await runCli(['describe', 'api'], daemon.env);
    expect(describe.stdout).toMatch(/env API_SECRET +hunter2/);

    expect((await runCli(['stop', 'all'], daemon.env)).stdout).toContain('stopped 3 services');
    expect((await runCli(['delete', 'worker'], daemon.env)).stdout).toContain('deleted 1 service');
    const missing = await runCli(['stop', 'nope'], daemon.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('process or namespace nope not found');
  });

  it('starts runpm.config.yaml and .toml files in dependency order', async () => {
    daemon = await startDaemon();
    const dir = daemon.home;
    const order = path.join(dir, 'order.txt');
    fs.writeFileSync(path.join(dir, 'runpm.config.yaml'), `services:
  - name: web
    cmd: [sh, -c, "echo web >> ${order}; exec sleep 60"]
    depends_on: [db]
    min_uptime_ms: 100
  - name: db
    cmd: [sh, -c, "echo db >> ${order}; exec sleep 60"]
    min_uptime_ms: 100
    colour: blue
`);
    const r = await runCli(['start', path.join(dir, 'runpm.config.yaml')], daemon.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("unknown key 'colour'");
    // db ran (and was online) before web was spawned; web's own line follows once it runs.
    await waitFor(() => fs.readFileSync(order, 'utf8') === 'db\nweb\n', 'db then web in the order file');
    fs.writeFileSync(path.join(dir, 'runpm.config.toml'), `[[services]]
name = "tomly"
cmd = ["sleep", "60"]
env = { MODE = "toml" }
log_max_bytes = 4096
`);
    const t = await runCli(['start', path.join(dir, 'runpm.config.toml')], daemon.env);
    expect(t.code).toBe(0);
    const tomly = await daemon.client.describeService('tomly');
    expect(tomly.config).toMatchObject({ cmd: ['sleep', '60'], env: { MODE: 'toml' }, logMaxBytes: 4096 });
  });

  it('start CMD with flags, logs (tail and --follow), flush, save, resurrect', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const r = await runCli(['start', '--name', 'ticker', '--env', 'GREETING=hi', '--max-restarts', '3', '--min-uptime', '100', '--', 'sh', '-c',
      'echo "$GREETING 0"; echo oops >&2; i=1; while true; do sleep 0.05; echo "$GREETING $i"; i=$((i+1)); done'], env);
    expect(r.code).toBe(0);
    const s = await waitStatus(daemon.client, 'ticker', 'online');
    expect(s.config).toMatchObject({ maxRestarts: 3, minUptimeMs: 100, autorestart: true });
    const logs = await runCli(['logs', 'ticker', '--lines', '1', '--err', '--nostream'], env);
    expect(logs.stdout).toBe('[ticker:err] oops\n');
    const tail = await runCli(['logs', '--lines', '2', '--out', '--nostream'], env);
    expect(tail.stdout).toMatch(/^\[ticker:out\] hi \d+\n\[ticker:out\] hi \d+\n$/);
    // --follow streams new lines until interrupted.
    const follower = spawn(process.execPath, [RUNPM, 'logs', 'ticker', '--follow', '--lines', '1', '--timestamp'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    try {
      await waitFor(() => /\d{4}-\d\d-\d\dT[^ ]+ \[ticker:out\] hi \d+\n/.test(followed), 'followed lines with timestamps');
    } finally {
      follower.kill('SIGINT');
      await new Promise((resolve) => follower.on('exit', resolve));
    }
    expect((await runCli(['flush'], env)).stdout).toContain('flushed the logs of 1 service');
    expect(fs.readFileSync(s.errLogPath, 'utf8')).toBe('');
    const saved = await runCli(['save', '--json'], env);
    expect(JSON.parse(saved.stdout)).toMatchObject({ serviceCount: 1 });
    await runCli(['stop', 'ticker'], env);
    const res = await runCli(['resurrect'], env);
    expect(res.stdout).toContain('restored 1 service, started 1');
    expect((await daemon.client.describeService('ticker')).pid).toBeGreaterThan(0);
  });

  it('startup prints a systemd user unit with --resurrect and --install writes it', async () => {
    daemon = await startDaemon();
    const printed = await runCli(['startup'], daemon.env);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('[Service]');
    expect(printed.stdout).toMatch(/ExecStart=\S+ \S+runpmd --scope test --resurrect --quiet --home \S+/);
    expect(printed.stdout).toContain('KillMode=process');
    expect(printed.stdout).toContain('WantedBy=default.target');
    const config = path.join(daemon.home, 'xdg');
    const installed = await runCli(['startup', '--install'], { ...daemon.env, XDG_CONFIG_HOME: config });
    const file = path.join(config, 'systemd', 'user', 'runpm-test.service');
    expect(installed.stdout).toContain(`wrote ${file}`);
    expect(fs.readFileSync(file, 'utf8')).toBe(printed.stdout);
  });

  it('loads no native module on the CLI path', async () => {
    daemon = await startDaemon();
    // Preloaded into the real bin/runpm (its one-file bundle included): lists what the process required.
    const probe = path.join(daemon.home, 'native-probe.js');
    fs.writeFileSync(probe, `process.on('exit', () => {
  const native = Object.keys(require.cache).filter((k) => /better-sqlite3|node-pty|\\.node$/.test(k));
  process.stderr.write('NATIVE=' + JSON.stringify(native) + ' BUNDLE=' + Object.keys(require.cache).some((k) => k.endsWith('runpm-bundle.js')));
});`);
    const r = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['-r', probe, path.join(ROOT, 'bin', 'runpm'), 'jlist'], { env: daemon!.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', () => resolve(err));
    });
    expect(r).toContain('NATIVE=[]');
    // The build's one-file CLI is what ran (scripts/build.mjs), not the ~40 modules it was made from.
    expect(r).toContain('BUNDLE=true');
  });

  it('stops a JS ecosystem file that never finishes evaluating, and refuses names like -x, . and ..', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'eco-loop');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'ecosystem.config.js');
    fs.writeFileSync(file, 'for (;;) {}\nmodule.exports = { apps: [] };\n');
    const started = Date.now();
    const r = await runCli(['start', file], { ...daemon.env, RUNPM_ECOSYSTEM_TIMEOUT_MS: '500' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('evaluating the file took longer than 500 ms');
    console.log(`looping ecosystem file refused after ${Date.now() - started} ms (limit 500 ms)`);
    fs.writeFileSync(file, 'throw new Error("config exploded")\n');
    const thrown = await runCli(['start', file], daemon.env);
    expect(thrown.code).not.toBe(0);
    expect(thrown.stderr).toContain('config exploded');
    fs.writeFileSync(file, `module.exports = { apps: [{ name: 'from-js', script: 'sleep', args: '30', env: { WHO: process.env.WHO } }] };\n`);
    const ok = await runCli(['start', file], { ...daemon.env, WHO: 'caller' });
    expect(ok.code).toBe(0);
    expect((await daemon.client.describeService('from-js')).config.env).toMatchObject({ WHO: 'caller' });
    for (const name of ['-x', '.', '..']) {
      const bad = await runCli(['start', `--name=${name}`, '--', 'sleep', '30'], daemon.env);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`invalid service name ${JSON.stringify(name)}`);
    }
    expect((await daemon.client.listServices()).map((s) => s.name)).toEqual(['from-js']);
  });
});
