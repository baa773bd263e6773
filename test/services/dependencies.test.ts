// Black-box: depends_on. Dependencies start first and are online before their dependents start;
// stopping goes in reverse; cycles and unknown names are refused with the names in the message.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** A service that appends "start <name>" at start and "stop <name>" on its stop signal (SIGINT, as pm2) to the order file. */
function ordered(file: string, name: string, dependsOn: string[] = []) {
  return shService(name, `echo "start ${name}" >> ${file}; trap 'echo "stop ${name}" >> ${file}; exit 0' INT TERM; while true; do sleep 0.05; done`,
    { dependsOn, minUptimeMs: 150 });
}

function events(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe('depends_on', () => {
  it('starts dependencies first (online before the dependent starts) and stops in reverse', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const file = path.join(daemon.home, 'order.txt');
    await c.startService(ordered(file, 'db'));
    await c.startService(ordered(file, 'cache', ['db']));
    await c.startService(ordered(file, 'api', ['db', 'cache']));
    await c.stopService('all');
    fs.writeFileSync(file, '');
    // Starting the top service starts the chain, each dependency online first.
    const api = await c.startService(ordered(file, 'api', ['db', 'cache']));
    expect(api.status).toBe('online');
    const states = new Map((await c.listServices()).map((s) => [s.name, s]));
    expect(states.get('db')!.status).toBe('online');
    expect(states.get('cache')!.status).toBe('online');
    // The dependency was up min_uptime before the dependent's run began.
    expect(api.lastStartedAt - states.get('cache')!.lastStartedAt).toBeGreaterThanOrEqual(0.15);
    expect(states.get('cache')!.lastStartedAt - states.get('db')!.lastStartedAt).toBeGreaterThanOrEqual(0.15);
    await waitFor(() => events(file).length === 3, 'api to record its start');
    expect(events(file)).toEqual(['start db', 'start cache', 'start api']);
    // Stopping db stops what depends on it first.
    fs.writeFileSync(file, '');
    expect(await c.stopService('db')).toBe(3);
    expect(events(file)).toEqual(['stop api', 'stop cache', 'stop db']);
  });

  it('refuses a cycle naming it, an unknown dependency, and deleting something others need', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const file = path.join(daemon.home, 'order.txt');
    await c.startService(ordered(file, 'a'));
    await c.startService(ordered(file, 'b', ['a']));
    await c.stopService('all');
    const cycle = await c.startService(ordered(file, 'a', ['b'])).catch((e) => e as DaemonError);
    expect(cycle).toBeInstanceOf(DaemonError);
    expect(cycle.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(cycle.message).toContain('dependency cycle: a -> b -> a');
    const self = await c.startService(ordered(file, 'c', ['c'])).catch((e) => e as DaemonError);
    expect(self.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(self.message).toContain('dependency cycle: c -> c');
    const unknown = await c.startService(ordered(file, 'd', ['nope'])).catch((e) => e as DaemonError);
    expect(unknown.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(unknown.message).toContain("unknown service 'nope'");
    const del = await c.deleteService('a').catch((e) => e as DaemonError);
    expect(del.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(del.message).toContain("service 'b' depends on it");
    // Nothing was defined by the refused requests.
    expect((await c.listServices()).map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('fails a start whose dependency cannot come online, naming both', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService({ name: 'broken', cmd: ['/nonexistent/db'] });
    const err = await c.startService(shService('app', 'exec sleep 30', { dependsOn: ['broken'] })).catch((e) => e as DaemonError);
    expect(err.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(err.message).toContain("'app' depends on 'broken', which is errored");
  });
});
