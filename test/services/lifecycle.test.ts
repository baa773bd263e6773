// Black-box: defining, listing, describing, stopping, restarting and deleting services, through the
// real client against a real daemon.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, isAlive, type TestDaemon } from '../helpers/daemon';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { shService, waitStatus } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('service lifecycle', () => {
  it('starts, lists, describes, stops, restarts and deletes a service with exact counts', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const started = await c.startService(shService('web', 'echo hello; exec sleep 30', { env: { SECRET: 'hunter2' } }));
    expect(started.name).toBe('web');
    expect(started.id).toBe(0);
    expect(started.status).toBe('online'); // at spawn, as pm2
    expect(started.pid).toBeGreaterThan(0);
    expect(isAlive(started.pid)).toBe(true);
    const online = await waitStatus(c, 'web', 'online');
    expect(online.pid).toBe(started.pid);
    expect(online.restartCount).toBe(0);
    expect(online.lastStartedAt).toBeGreaterThan(Date.now() / 1000 - 60);
    // No environment values in list output; describe has them.
    expect(online.config!.env).toEqual({});
    expect(JSON.stringify(await c.listServices())).not.toContain('hunter2');
    const described = await c.describeService('web');
    expect(described.config!.env).toEqual({ SECRET: 'hunter2' });
    expect(described.outLogPath).toBe(path.join(daemon.paths.logsDir, 'web-out.log'));
    expect(await c.describeService('0')).toMatchObject({ name: 'web' });

    const second = await c.startService(shService('worker', 'exec sleep 30'));
    expect(second.id).toBe(1);

    expect(await c.restartService('web')).toBe(1);
    const restarted = await c.describeService('web');
    expect(restarted.pid).not.toBe(started.pid);
    expect(restarted.restartCount).toBe(1);
    await waitFor(() => !isAlive(started.pid), 'old run gone');

    expect(await c.stopService('all')).toBe(2);
    const stopped = await c.listServices();
    expect(stopped.map((s) => [s.name, s.status, s.pid])).toEqual([['web', 'stopped', 0], ['worker', 'stopped', 0]]);
    expect(isAlive(restarted.pid)).toBe(false);
    // Stopping what is stopped changes nothing and says so.
    expect(await c.stopService('web')).toBe(0);

    expect(await c.deleteService('worker')).toBe(1);
    expect((await c.listServices()).map((s) => s.name)).toEqual(['web']);
    expect(await c.deleteService('all')).toBe(1);
    expect(await c.listServices()).toEqual([]);
  });

  it('refuses a second start of a running name, and restarts a stopped one with its new config', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('api', 'exec sleep 30'));
    const err = await c.startService(shService('api', 'exec sleep 31')).catch((e) => e as DaemonError);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect((err as DaemonError).message).toContain("service 'api' already exists");
    await c.stopService('api');
    const again = await c.startService(shService('api', 'exec sleep 32'));
    expect(again.id).toBe(0);
    expect(again.config!.cmd).toEqual(['sh', '-c', 'exec sleep 32']);
    expect(fs.readFileSync(`/proc/${again.pid}/cmdline`, 'utf8')).toContain('32');
  });

  it('layers the service env over the daemon env and its --env defaults', async () => {
    daemon = await startDaemon({ args: ['--env', 'LAYER_A=daemon-default', '--env', 'LAYER_B=daemon-default'], env: { LAYER_C: 'daemon-process' } });
    const c = daemon.client;
    const out = path.join(daemon.home, 'env.txt');
    await c.startService(shService('envy', `echo "$LAYER_A|$LAYER_B|$LAYER_C|$RUNPM_SERVICE_NAME" > ${out}; exec sleep 30`, { env: { LAYER_B: 'service' } }));
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('\n'), 'env written');
    expect(fs.readFileSync(out, 'utf8').trim()).toBe('daemon-default|service|daemon-process|envy');
  });

  it('reports a program that cannot be spawned as errored with the reason', async () => {
    daemon = await startDaemon();
    const s = await daemon.client.startService({ name: 'ghost', cmd: ['/nonexistent/program'] });
    expect(s.status).toBe('errored');
    expect(s.pid).toBe(0);
    expect(s.lastError).toContain('/nonexistent/program');
  });
});
