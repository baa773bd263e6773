// Black-box: a restart's flags change the app, as pm2's do (issue 17; pm2's app-config-update
// e2e script): `restart app.js --node-args=...`, `start NAME --node-args=...`, `restart ID --name
// NEW` (a rename keeping the id), `restart NAME -- args`; bad renames are refused by the daemon.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client';
import { startDaemon, runCli, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

interface Entry { pid: number; name: string; pm_id: number; pm2_env: { node_args: string[]; args: string[]; restart_time: number; status: string } }

async function jlist(env: NodeJS.ProcessEnv): Promise<Entry[]> {
  const r = await runCli(['jlist'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Entry[];
}

describe('restart flags', () => {
  it('node_args, args and a rename applied by restart and start of an existing app; ids kept', async () => {
    daemon = await startDaemon();
    const dir = path.join(daemon.home, 'app');
    fs.mkdirSync(dir);
    const script = path.join(dir, 'echo.js');
    fs.writeFileSync(script, 'setInterval(() => {}, 1000);\n');
    const env = daemon.env;
    expect((await runCli(['start', script], env)).code).toBe(0);
    expect((await jlist(env))[0].pm2_env.node_args).toEqual([]);
    const r = await runCli(['restart', script, '--node-args=--no-warnings'], env);
    expect(r.code, r.stderr).toBe(0);
    let [e] = await jlist(env);
    expect(e.pm2_env).toMatchObject({ node_args: ['--no-warnings'], restart_time: 1, status: 'online' });
    // The run has it: node's own options in its command line.
    expect(fs.readFileSync(`/proc/${e.pid}/cmdline`, 'utf8').split('\0')).toContain('--no-warnings');
    expect((await runCli(['start', 'echo', '--node-args=--no-deprecation'], env)).code).toBe(0);
    [e] = await jlist(env);
    expect(e.pm2_env.node_args).toEqual(['--no-deprecation']);
    expect((await runCli(['restart', 'echo', '--', 'one', 'two'], env)).code).toBe(0);
    [e] = await jlist(env);
    expect(e.pm2_env.args).toEqual(['one', 'two']);
    const before = e.pm2_env.restart_time;
    // Rename: the same id, one restart more, the old name gone.
    const renamed = await runCli(['restart', '0', '--name', 'renamed'], env);
    expect(renamed.code, renamed.stderr).toBe(0);
    const list = await jlist(env);
    expect(list.map((x) => [x.pm_id, x.name, x.pm2_env.status, x.pm2_env.restart_time])).toEqual([[0, 'renamed', 'online', before + 1]]);
    expect(list[0].pm2_env.node_args).toEqual(['--no-deprecation']);
    expect((await runCli(['start', '0', '--name', 'again'], env)).code).toBe(0);
    expect((await jlist(env)).map((x) => [x.pm_id, x.name])).toEqual([[0, 'again']]);
    // A bare --watch on restart toggles watching, as pm2's.
    const watching = async () => ((await jlist(env))[0].pm2_env as unknown as { watch: unknown }).watch;
    expect(await watching()).toBe(false);
    expect((await runCli(['restart', 'again', '--watch'], env)).code).toBe(0);
    expect(await watching()).toBe(true);
    expect((await runCli(['restart', 'again', '--watch'], env)).code).toBe(0);
    expect(await watching()).toBe(false);
  });

  it('bad renames: an unknown old name, a taken new name, a service others depend on', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const T = RequestType.REQUEST_TYPE_SERVICE_START;
    const svc = (name: string, extra: Record<string, unknown> = {}) => ({ name, cmd: ['sleep', '30'], cwd: daemon!.home, ...extra });
    await c.startService(svc('a'));
    await c.startService(svc('b'));
    await c.startService(svc('needs-b', { dependsOn: ['b'] }));
    const expectBad = async (config: Record<string, unknown>, renameFrom: string, code: StatusCode, text: string) => {
      const r = await c.send(T, 'serviceStart', { config, renameFrom });
      expect(StatusCode[r.code], r.message).toBe(StatusCode[code]);
      expect(r.message).toContain(text);
    };
    await expectBad(svc('z'), 'nobody', StatusCode.STATUS_CODE_NOT_FOUND, "no service named 'nobody' to rename to 'z'");
    await expectBad(svc('b'), 'a', StatusCode.STATUS_CODE_INVALID_ARGUMENT, "cannot rename 'a' to 'b': a service of that name exists");
    await expectBad(svc('c'), 'b', StatusCode.STATUS_CODE_INVALID_ARGUMENT, "cannot rename service 'b': service 'needs-b' depends on it");
    // Nothing changed, and a right rename works.
    expect((await c.listServices()).map((s) => [s.id, s.name, s.status])).toEqual([[0, 'a', 'online'], [1, 'b', 'online'], [2, 'needs-b', 'online']]);
    const [moved] = await c.startServiceInstances(svc('a2'), { renameFrom: 'a' });
    expect([moved.id, moved.name, moved.status]).toEqual([0, 'a2', 'online']);
  });
});
