// Black-box: pm2's instances in fork mode (issue 17.2): N services under one name, each with its
// own id, run, NODE_APP_INSTANCE and log files; targets by name act on all of them; a start of an
// existing app with restart_existing redefines and restarts it, matching the new count.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Each run writes "<NODE_APP_INSTANCE> <PORT>" to dir/<pid> and stays. */
function reporter(dir: string): string {
  return `echo "$NODE_APP_INSTANCE $PORT" > ${dir}/$$; exec sleep 30`;
}

describe('instances', () => {
  it('starts N instances sharing the name, each with its id, NODE_APP_INSTANCE, increment_var and logs', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const dir = path.join(daemon.home, 'runs');
    fs.mkdirSync(dir);
    const all = await c.startServiceInstances(shService('web', reporter(dir), { instances: 3, env: { PORT: '3000' }, incrementVar: 'PORT' }));
    expect(all.map((s) => [s.name, s.id, s.instanceIndex, s.status])).toEqual([['web', 0, 0, 'online'], ['web', 1, 1, 'online'], ['web', 2, 2, 'online']]);
    expect(new Set(all.map((s) => s.pid)).size).toBe(3);
    await waitFor(() => all.every((s) => fs.existsSync(path.join(dir, String(s.pid)))), 'every instance to report');
    expect(all.map((s) => fs.readFileSync(path.join(dir, String(s.pid)), 'utf8'))).toEqual(['0 3000\n', '1 3001\n', '2 3002\n']);
    // pm2's file names for instances: -<id> before .log.
    expect(all.map((s) => path.basename(s.outLogPath))).toEqual(['web-out-0.log', 'web-out-1.log', 'web-out-2.log']);
    expect(all.map((s) => path.basename(s.errLogPath))).toEqual(['web-error-0.log', 'web-error-1.log', 'web-error-2.log']);
    // A name targets every instance; an id one.
    expect(await c.restartService('web')).toBe(3);
    expect(await c.stopService('1')).toBe(1);
    expect((await c.listServices()).map((s) => s.status)).toEqual(['online', 'stopped', 'online']);
    expect(await c.deleteService('web')).toBe(3);
    expect(await c.listServices()).toEqual([]);
  });

  it('a single service gets NODE_APP_INSTANCE 0 and pm2 names without an id; instance_var renames it', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const dir = path.join(daemon.home, 'runs');
    fs.mkdirSync(dir);
    const one = await c.startService(shService('solo', reporter(dir)));
    await waitFor(() => fs.existsSync(path.join(dir, String(one.pid))), 'the report');
    expect(fs.readFileSync(path.join(dir, String(one.pid)), 'utf8')).toBe('0 \n');
    expect(path.basename(one.outLogPath)).toBe('solo-out.log');
    const own = await c.startService(shService('own', `echo "$WORKER" > ${dir}/own; exec sleep 30`, { instanceVar: 'WORKER' }));
    expect(own.instanceIndex).toBe(0);
    await waitFor(() => fs.existsSync(path.join(dir, 'own')) && fs.readFileSync(path.join(dir, 'own'), 'utf8') === '0\n', 'WORKER=0');
  });

  it('merge_logs gives instances one set of files', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const all = await c.startServiceInstances(shService('m', 'echo "hello from $NODE_APP_INSTANCE"; exec sleep 30', { instances: 2, mergeLogs: true }));
    expect(new Set(all.map((s) => s.outLogPath))).toEqual(new Set([path.join(daemon.paths.logsDir, 'm-out.log')]));
    await waitFor(() => {
      const text = fs.existsSync(all[0].outLogPath) ? fs.readFileSync(all[0].outLogPath, 'utf8') : '';
      return text.includes('hello from 0') && text.includes('hello from 1');
    }, 'both instances in the one file');
  });

  it('start of a running app is refused unless restart_existing, which redefines, restarts and matches the count', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const first = await c.startServiceInstances(shService('app', 'exec sleep 30', { instances: 2 }));
    await expect(c.startService(shService('app', 'exec sleep 30'))).rejects.toThrow(/already exists/);
    const grown = await c.startServiceInstances(shService('app', 'exec sleep 31', { instances: 3 }), { restartExisting: true });
    expect(grown.map((s) => s.id)).toEqual([0, 1, 2]);
    expect(grown.every((s) => s.status === 'online' && s.config.cmd[2] === 'exec sleep 31')).toBe(true);
    expect(grown.slice(0, 2).map((s) => s.restartCount)).toEqual([1, 1]);
    expect(grown.slice(0, 2).every((s, i) => s.pid !== first[i].pid)).toBe(true);
    const shrunk = await c.startServiceInstances(shService('app', 'exec sleep 31', { instances: 1 }), { restartExisting: true });
    expect(shrunk.map((s) => s.id)).toEqual([0]);
    expect((await c.listServices()).map((s) => s.id)).toEqual([0]);
  });

  it('save and resurrect keep the instances', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startServiceInstances(shService('pool', 'exec sleep 30', { instances: 2 }));
    expect((await c.saveServices()).serviceCount).toBe(1);
    await c.deleteService('pool');
    expect(await c.resurrectServices()).toEqual({ restoredCount: 1, startedCount: 1 });
    const back = await c.listServices();
    expect(back.map((s) => [s.name, s.instanceIndex, s.status])).toEqual([['pool', 0, 'online'], ['pool', 1, 'online']]);
  });
});

describe('start -f (add_instances)', () => {
  it('adds instances beside a running app with the next free numbers; reset and restart act on all', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('echo', 'exec sleep 30'));
    const added = await c.startServiceInstances(shService('echo', 'exec sleep 30', { instances: 4 }), { addInstances: true });
    expect(added.map((s) => [s.id, s.instanceIndex])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
    expect(await c.restartService('echo')).toBe(5);
    expect((await c.listServices()).map((s) => s.restartCount)).toEqual([1, 1, 1, 1, 1]);
    expect(await c.resetService('echo')).toBe(5);
    expect((await c.listServices()).map((s) => [s.restartCount, s.status])).toEqual(Array(5).fill([0, 'online']));
    // Saved and restored as five.
    await c.saveServices();
    await c.deleteService('echo');
    await c.resurrectServices();
    expect((await c.listServices()).map((s) => [s.name, s.instanceIndex])).toEqual([0, 1, 2, 3, 4].map((i) => ['echo', i]));
  });

  it('adds without starting a stopped instance of the name', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('echo', 'exec sleep 30'));
    await c.stopService('echo');
    const added = await c.startServiceInstances(shService('echo', 'exec sleep 30'), { addInstances: true });
    expect(added.map((s) => [s.id, s.instanceIndex, s.status])).toEqual([[1, 1, 'online']]);
    expect((await c.describeService('0')).status).toBe('stopped');
  });
});
