// Black-box tests of the registry requests: register/list/unregister, zombie reaping (dead,
// recycled, orphaned), process trees, tree kills and every request type's bad inputs.
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startDaemon, waitFor, isAlive, type TestDaemon } from '../helpers/daemon';
import { startChild, waitDescendants, killAll, killAndWait, unusedPid, startTicksOf } from './fixtures';
import '../../src/client/index';
import { DaemonError } from '../../src/wire/errors';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  killAll();
  await daemon?.stop();
  daemon = null;
});

async function expectError(p: Promise<unknown>, code: StatusCode, message: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DaemonError);
  expect((err as DaemonError).code).toBe(code);
  expect((err as DaemonError).message).toMatch(message);
}

describe('register, list, unregister', () => {
  it('round-trips a tracked process with every field filled truthfully', async () => {
    daemon = await startDaemon();
    const pid = startChild('exec sleep 1000');
    await waitFor(() => isAlive(pid) && /sleep/.test(require('node:fs').readFileSync(`/proc/${pid}/cmdline`, 'utf8')), 'child exec');
    const originator = `mytool:${process.pid}`;
    await daemon.client.register({ pid, createdAt: 0, kind: 'worker', command: 'sleep 1000', cwd: '/tmp', originator, containment: 'external' });

    const [p] = await daemon.client.listActive({ includeUsage: true });
    expect(p.pid).toBe(pid);
    expect(p.kind).toBe('worker');
    expect(p.command).toBe('sleep 1000');
    expect(p.cwd).toBe('/tmp');
    expect(p.originator).toBe(originator);
    expect(p.containment).toBe('external');
    expect(p.state).toBe(pb.ProcessState.PROCESS_STATE_ALIVE);
    expect(p.parentAlive).toBe(true);
    // created_at comes from the OS start time: not after registration, within the test's life.
    expect(p.createdAt).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(p.createdAt).toBeLessThanOrEqual(p.registeredAt! + 0.01);
    expect(p.lastValidatedAt).toBeGreaterThanOrEqual(p.registeredAt!);
    expect(p.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(p.memoryBytes).toBeGreaterThan(0);

    expect((await daemon.client.listByOriginator('mytool')).map((x) => x.pid)).toEqual([pid]);
    expect(await daemon.client.listByOriginator('mytoo')).toEqual([]);
    expect((await daemon.client.status()).trackedProcessCount).toBe(1);

    await daemon.client.unregister(pid);
    expect(await daemon.client.listActive()).toEqual([]);
    expect((await daemon.client.status()).trackedProcessCount).toBe(0);
    expect(isAlive(pid)).toBe(true);
  });

  it('reports parent_alive from the originator pid, and from the OS parent without one', async () => {
    daemon = await startDaemon();
    const pid = startChild('exec sleep 1000');
    const deadOrigin = unusedPid();
    await daemon.client.register({ pid, command: 'sleep', originator: `x:${deadOrigin}` });
    expect((await daemon.client.listActive())[0].parentAlive).toBe(false);
    await daemon.client.register({ pid, command: 'sleep', originator: 'no-pid-here' });
    // The OS parent is this test process.
    expect((await daemon.client.listActive())[0].parentAlive).toBe(true);
  });

  it('replaces a stale row when the same pid registers with a new start time', async () => {
    daemon = await startDaemon();
    const pid = startChild('exec sleep 1000');
    const ticks = startTicksOf(pid);
    const db = new Database(daemon.paths.dbPath);
    db.prepare(`INSERT INTO tracked_processes VALUES (?, ?, 1, 'old', 'old command', '/', '', '', 1, 1)`).run(pid, ticks - 1);
    db.close();
    expect((await daemon.client.listActive())[0].state).toBe(pb.ProcessState.PROCESS_STATE_DEAD);
    await daemon.client.register({ pid, command: 'new command' });
    const rows = await daemon.client.listActive();
    expect(rows.map((r) => [r.pid, r.command, r.state])).toEqual([[pid, 'new command', pb.ProcessState.PROCESS_STATE_ALIVE]]);
  });
});

describe('kill zombies', () => {
  it('reports a dead tracked process in a dry run and removes it in a real run', async () => {
    daemon = await startDaemon();
    const pid = startChild('exec sleep 1000');
    await daemon.client.register({ pid, command: 'sleep 1000' });
    await killAndWait(pid);
    expect((await daemon.client.listActive())[0].state).not.toBe(pb.ProcessState.PROCESS_STATE_ALIVE);

    const dry = await daemon.client.killZombies(true);
    expect(dry).toHaveLength(1);
    expect(dry[0].pid).toBe(pid);
    expect(dry[0].command).toBe('sleep 1000');
    expect(dry[0].reason).toMatch(new RegExp(`^dead: pid ${pid}`));
    expect(dry[0].killed).toBe(false);
    expect(await daemon.client.listActive()).toHaveLength(1);

    const real = await daemon.client.killZombies(false);
    expect(real.map((z) => z.pid)).toEqual([pid]);
    expect(await daemon.client.listActive()).toEqual([]);
    expect(await daemon.client.killZombies(true)).toEqual([]);
  });

  it('unregisters a recycled pid (row with another start time) and never kills the live process', async () => {
    daemon = await startDaemon();
    const pid = startChild('exec sleep 1000');
    const db = new Database(daemon.paths.dbPath);
    db.prepare(`INSERT INTO tracked_processes VALUES (?, ?, 1, 'process', 'the old one', '/', 'tool:1', '', 1, 1)`).run(pid, startTicksOf(pid) - 5);
    db.close();

    const dry = await daemon.client.killZombies(true);
    expect(dry).toHaveLength(1);
    expect(dry[0].reason).toMatch(new RegExp(`^recycled: pid ${pid} now belongs to another process`));
    const real = await daemon.client.killZombies(false);
    expect(real[0].reason).toMatch(/^recycled/);
    expect(real[0].killed).toBe(false);
    expect(await daemon.client.listActive()).toEqual([]);
    expect(isAlive(pid)).toBe(true);
  });

  it('kills an orphan (its originator died) together with its children, then unregisters it', async () => {
    daemon = await startDaemon();
    const originator = startChild('exec sleep 1000');
    const tracked = startChild('sleep 1000 & sleep 1000 & wait');
    const kids = await waitDescendants(tracked, 2);
    await daemon.client.register({ pid: tracked, command: 'sh', originator: `tool:${originator}` });
    expect(await daemon.client.killZombies(true)).toEqual([]);

    await killAndWait(originator);
    const dry = await daemon.client.killZombies(true);
    expect(dry[0].reason).toBe(`orphaned: originator tool:${originator} (pid ${originator}) is dead`);
    expect(isAlive(tracked)).toBe(true);

    const [report] = await daemon.client.killZombies(false);
    expect(report.pid).toBe(tracked);
    expect(report.killed).toBe(true);
    expect(report.reason).toMatch(/^orphaned: .*; killed 3 process\(es\)$/);
    for (const p of [tracked, ...kids]) expect(isAlive(p)).toBe(false);
    expect(await daemon.client.listActive()).toEqual([]);
  });

  it('runs the same logic on the reaper timer and logs it', async () => {
    daemon = await startDaemon({ args: ['--reaper-interval-ms', '50'] });
    const pid = startChild('exec sleep 1000');
    await daemon.client.register({ pid, command: 'reap me' });
    await killAndWait(pid);
    await waitFor(async () => (await daemon!.client.listActive()).length === 0, 'the reaper to unregister the dead row');
    await waitFor(() => daemon!.stderr().includes(`reaper: unregistered pid ${pid} (reap me): dead`), 'the reaper log line');
  });
});

describe('process trees', () => {
  it('renders a tree with ├──, └── and │ rails', async () => {
    daemon = await startDaemon();
    const root = startChild('(sleep 1000 & sleep 1000 & wait) & sleep 1000 & wait');
    const all = await waitDescendants(root, 4);
    const text = await daemon.client.getProcessTree(root);
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe(`sh (pid=${root}) /bin/sh -c (sleep 1000 & sleep 1000 & wait) & sleep 1000 & wait`);
    expect(lines[1]).toMatch(/^├── sh \(pid=\d+\) \/bin\/sh -c /);
    expect(lines[2]).toMatch(/^│   ├── sleep \(pid=\d+\) sleep 1000$/);
    expect(lines[3]).toMatch(/^│   └── sleep \(pid=\d+\) sleep 1000$/);
    expect(lines[4]).toMatch(/^└── sleep \(pid=\d+\) sleep 1000$/);
    const shown = text.match(/pid=(\d+)/g)!.map((m) => Number(m.slice(4))).sort((a, b) => a - b);
    expect(shown).toEqual([root, ...all].sort((a, b) => a - b));
  });

  it("KillTree of sh -c 'sleep 1000 & sleep 1000 & wait' leaves nothing", async () => {
    daemon = await startDaemon();
    const root = startChild('sleep 1000 & sleep 1000 & wait');
    const kids = await waitDescendants(root, 2);
    expect(await daemon.client.killTree(root)).toBe(3);
    for (const p of [root, ...kids]) expect(isAlive(p)).toBe(false);
    expect(daemon.stderr()).toContain(`kill-tree pid ${root}`);
  });
});

describe('bad inputs', () => {
  it('Register: pid 0, empty command, negative created_at, unknown pid, mismatching created_at', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await expectError(c.register({ pid: 0, command: 'x' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /pid must be a positive integer, got 0/);
    await expectError(c.register({ pid: process.pid, command: '  ' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /command must not be empty/);
    await expectError(c.register({ pid: process.pid, command: 'x', createdAt: -1 }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /created_at .* got -1/);
    const ghost = unusedPid();
    await expectError(c.register({ pid: ghost, command: 'x' }), StatusCode.STATUS_CODE_NOT_FOUND, new RegExp(`no process with pid ${ghost}`));
    await expectError(c.register({ pid: process.pid, command: 'x', createdAt: 1000 }), StatusCode.STATUS_CODE_NOT_FOUND, /not at created_at 1000: it is another process/);
    expect(await c.listActive()).toEqual([]);
  });

  it('Unregister: pid 0 and an untracked pid', async () => {
    daemon = await startDaemon();
    await expectError(daemon.client.unregister(0), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /got 0/);
    await expectError(daemon.client.unregister(4242), StatusCode.STATUS_CODE_NOT_FOUND, /pid 4242 is not tracked/);
  });

  it('SpawnDaemon: empty command, missing cwd, bad env key', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await expectError(c.spawnDaemon({ command: '' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /command must not be empty/);
    await expectError(c.spawnDaemon({ command: 'true', cwd: '/no/such/dir' }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /cwd "\/no\/such\/dir" does not exist/);
    await expectError(c.spawnDaemon({ command: 'true', env: [{ key: 'A=B', value: '1' }] }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /env key "A=B" is invalid/);
    await expectError(c.spawnDaemon({ command: 'true', env: [{ key: '', value: '1' }] }), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /env key "" is invalid/);
    expect(await c.listActive()).toEqual([]);
  });

  it('ListByOriginator, GetProcessTree, KillTree: empty tool, pid 0, unknown pids, bad timeouts, the daemon and its ancestors', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const ghost = unusedPid();
    await expectError(c.listByOriginator(''), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /tool must not be empty/);
    await expectError(c.getProcessTree(0), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /got 0/);
    await expectError(c.getProcessTree(ghost), StatusCode.STATUS_CODE_NOT_FOUND, new RegExp(`no process with pid ${ghost}`));
    await expectError(c.killTree(0), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /got 0/);
    // Idempotent like the reference: a pid that is gone has nothing left to kill.
    expect(await c.killTree(ghost)).toBe(0);
    await expectError(c.killTree(daemon.pid), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /the daemon itself/);
    await expectError(c.killTree(process.pid), StatusCode.STATUS_CODE_INVALID_ARGUMENT, new RegExp(`pid ${process.pid}: it is an ancestor of the daemon`));
    const pid = startChild('exec sleep 1000');
    await expectError(c.killTree(pid, 31), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /got 31/);
    await expectError(c.killTree(pid, -1), StatusCode.STATUS_CODE_INVALID_ARGUMENT, /got -1/);
    expect(isAlive(pid)).toBe(true);
    expect(isAlive(daemon.pid)).toBe(true);
  });

  it('answers every registry type without its payload as it answers the all-default payload', async () => {
    daemon = await startDaemon();
    const types: Array<[RequestType, string, StatusCode]> = [
      [RequestType.REQUEST_TYPE_REGISTER, 'register', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
      [RequestType.REQUEST_TYPE_UNREGISTER, 'unregister', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
      [RequestType.REQUEST_TYPE_SPAWN_DAEMON, 'spawnDaemon', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
      [RequestType.REQUEST_TYPE_LIST_ACTIVE, 'listActive', StatusCode.STATUS_CODE_OK],
      [RequestType.REQUEST_TYPE_LIST_BY_ORIGINATOR, 'listByOriginator', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
      [RequestType.REQUEST_TYPE_GET_PROCESS_TREE, 'getProcessTree', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
      [RequestType.REQUEST_TYPE_KILL_ZOMBIES, 'killZombies', StatusCode.STATUS_CODE_OK],
      [RequestType.REQUEST_TYPE_KILL_TREE, 'killTree', StatusCode.STATUS_CODE_INVALID_ARGUMENT],
    ];
    for (const [type, key, code] of types) {
      const none = await daemon.client.send(type, null, null);
      const empty = await daemon.client.send(type, key, {});
      expect([RequestType[type], StatusCode[none.code], none.message]).toEqual([RequestType[type], StatusCode[code], empty.message]);
    }
  });

});
