// Black-box tests of what outlives a daemon: SpawnDaemon children, the database after a SIGKILL
// in the middle of writes, validation of rows at start, and refusal of a newer schema.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startDaemon, waitFor, isAlive, runCli, makeTempHome, RUNPMD, type TestDaemon } from '../helpers/daemon';
import { RawConnection } from '../helpers/raw';
import { startChild, remember, killAll, killAndWait, waitDescendants } from './fixtures';
import '../../src/client/index';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { latestSchemaVersion } from '../../src/registry/db';
import { resolveScopePaths } from '../../src/scope/paths';

let daemon: TestDaemon | null = null;
const homes: string[] = [];
afterEach(async () => {
  killAll();
  await daemon?.stop();
  daemon = null;
  for (const h of homes.splice(0)) fs.rmSync(h, { recursive: true, force: true });
});

function readEnvFile(file: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\0')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

describe('SpawnDaemon', () => {
  it('layers daemon env, --env defaults and request env (last wins); registers kind daemon; survives `runpm daemon stop`', async () => {
    daemon = await startDaemon({ args: ['--env', 'LAYER_DEFAULT=from-daemon', '--env', 'LAYER_OVERRIDE=daemon'], env: { LAYER_INHERITED: 'from-daemon-env' } });
    const out = path.join(daemon.home, 'env.out');
    const r = await daemon.client.spawnDaemon({
      command: `env -0 > ${out}; exec sleep 1000`, cwd: daemon.home, originator: 'spawner:1',
      env: [{ key: 'LAYER_OVERRIDE', value: 'first' }, { key: 'LAYER_OVERRIDE', value: 'request' }],
    });
    remember(r.pid);
    expect(r.containment).toBe('detached');
    expect(r.cwd).toBe(daemon.home);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('LAYER_OVERRIDE'), 'env dump');
    const env = readEnvFile(out);
    expect(env.get('LAYER_DEFAULT')).toBe('from-daemon');
    expect(env.get('LAYER_OVERRIDE')).toBe('request');
    expect(env.get('LAYER_INHERITED')).toBe('from-daemon-env');
    // The daemon's own variables stay with the daemon; the originator is marked as in sessions.
    expect(env.has('RUNPM_HOME')).toBe(false);
    expect(env.get('RUNNING_PROCESS_ORIGINATOR')).toBe('spawner:1');

    // Own session, stdio on /dev/null: checked once the shell has become `sleep` (until then its
    // redirection to env.out may still be in place).
    await waitFor(() => fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').startsWith('sleep'), 'the shell to exec sleep');
    const stat = fs.readFileSync(`/proc/${r.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[3])).toBe(r.pid);
    for (const fd of [0, 1, 2]) expect(fs.readlinkSync(`/proc/${r.pid}/fd/${fd}`)).toBe('/dev/null');

    const [p] = await daemon.client.listByOriginator('spawner');
    expect(p.pid).toBe(r.pid);
    expect(p.kind).toBe('daemon');
    expect(p.containment).toBe('detached');
    expect(p.state).toBe(pb.ProcessState.PROCESS_STATE_ALIVE);

    const stop = await runCli(['daemon', 'stop'], daemon.env);
    expect(stop.code).toBe(0);
    expect(await daemon.exited).toBe(0);
    expect(isAlive(r.pid)).toBe(true);
    process.kill(r.pid, 'SIGKILL');
  });

  it('with clear_inherited_env the child sees only the request entries', async () => {
    daemon = await startDaemon({ args: ['--env', 'LAYER_DEFAULT=from-daemon'] });
    const out = path.join(daemon.home, 'env.out');
    const r = await daemon.client.spawnDaemon({
      command: `/usr/bin/env -0 > ${out}; exec /bin/sleep 1000`, clearInheritedEnv: true, env: [{ key: 'ONLY_ME', value: 'yes' }],
    });
    remember(r.pid);
    await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('ONLY_ME'), 'env dump');
    const env = readEnvFile(out);
    expect(env.get('ONLY_ME')).toBe('yes');
    expect(env.has('LAYER_DEFAULT')).toBe(false);
    expect(env.has('RUNPM_TEST_RUN')).toBe(false);
    expect(env.has('HOME')).toBe(false);
  });

  it('unregisters the child when it exits; after a restart the survivor is still tracked and the reaper drops it once dead', async () => {
    daemon = await startDaemon();
    const quick = await daemon.client.spawnDaemon({ command: 'exec sleep 1000' });
    remember(quick.pid);
    expect((await daemon.client.listActive()).map((p) => p.pid)).toEqual([quick.pid]);
    process.kill(quick.pid, 'SIGKILL');
    await waitFor(async () => (await daemon!.client.listActive()).length === 0, 'the exited child to be unregistered');
    await waitFor(() => daemon!.stderr().includes(`detached daemon pid ${quick.pid} exited`), 'exit log line');

    const survivor = await daemon.client.spawnDaemon({ command: 'exec sleep 1000' });
    remember(survivor.pid);
    const home = daemon.home;
    const first = daemon;
    await first.client.shutdown({ graceful: true, timeoutSeconds: 1 });
    await first.exited;
    daemon = null;
    expect(isAlive(survivor.pid)).toBe(true);

    daemon = await startDaemon({ home, args: ['--reaper-interval-ms', '50'] });
    expect((await daemon.client.listActive()).map((p) => [p.pid, p.state])).toEqual([[survivor.pid, pb.ProcessState.PROCESS_STATE_ALIVE]]);
    await killAndWait(survivor.pid);
    await waitFor(async () => (await daemon!.client.listActive()).length === 0, 'the reaper to drop the dead child');
  });
});

describe('database durability', () => {
  it('survives SIGKILL in the middle of 1,000 registrations and reopens consistent', async () => {
    daemon = await startDaemon();
    const pids = Array.from({ length: 5 }, () => startChild('exec sleep 1000'));
    const raw = await RawConnection.open(daemon.paths.socketPath);
    for (let i = 1; i <= 1000; i++) {
      raw.sendRequest({
        id: i, type: RequestType.REQUEST_TYPE_REGISTER,
        register: { pid: pids[i % pids.length], command: `registration ${i}`, originator: 'crash-test', kind: 'process' },
      });
    }
    await raw.waitResponses(100);
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    raw.close();
    const answered = raw.responses.length;
    console.log(`SIGKILL after ${answered} of 1000 registrations were answered`);
    expect(raw.responses.every((r) => r.code === StatusCode.STATUS_CODE_OK)).toBe(true);

    const db = new Database(daemon.paths.dbPath);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('user_version', { simple: true })).toBe(latestSchemaVersion());
    const rows = db.prepare('SELECT pid, command FROM tracked_processes').all() as Array<{ pid: number; command: string }>;
    db.close();
    // One row per pid (a re-registration replaces); every answered registration was durable.
    expect(rows.length).toBe(5);
    for (const row of rows) {
      expect(pids).toContain(row.pid);
      expect(Number(row.command.split(' ')[1])).toBeGreaterThanOrEqual(answered - 5);
    }

    // Not stop(): that would remove the home with the database in it. The daemon is dead already.
    const home = daemon.home;
    daemon.client.close();
    daemon = await startDaemon({ home });
    const listed = await daemon.client.listActive();
    expect(listed.map((p) => p.pid).sort()).toEqual([...pids].sort());
    expect(listed.every((p) => p.state === pb.ProcessState.PROCESS_STATE_ALIVE)).toBe(true);
  });

  it('drops rows of dead processes when the daemon starts', async () => {
    daemon = await startDaemon();
    const keep = startChild('exec sleep 1000');
    const gone = startChild('exec sleep 1000');
    await daemon.client.register({ pid: keep, command: 'keep' });
    await daemon.client.register({ pid: gone, command: 'gone' });
    const home = daemon.home;
    await daemon.client.shutdown({ graceful: true, timeoutSeconds: 1 });
    await daemon.exited;
    daemon = null;
    await killAndWait(gone);

    daemon = await startDaemon({ home, args: ['--reaper-interval-ms', '0'] });
    expect((await daemon.client.listActive()).map((p) => p.command)).toEqual(['keep']);
    expect(daemon.stderr()).toContain(`registry: dropped pid ${gone} (gone) at start`);
  });

  it('refuses a database written by a newer schema with a clear message and leaves it unchanged', async () => {
    const home = makeTempHome();
    homes.push(home);
    const paths = resolveScopePaths({ scope: 'test', home });
    fs.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    const db = new Database(paths.dbPath);
    db.pragma('user_version = 99');
    db.close();
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [RUNPMD, '--scope', 'test', '--home', home, '--reserve-bytes', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${paths.dbPath} has schema version 99, newer than this runpmd supports (${latestSchemaVersion()}); refusing to open it`);
    const again = new Database(paths.dbPath);
    expect(again.pragma('user_version', { simple: true })).toBe(99);
    again.close();
  });
});

describe('runpm registry commands', () => {
  it('track, ps, tree, zombies, killtree, untrack and spawn-daemon work end to end', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const root = startChild('sleep 1000 & sleep 1000 & wait');
    await waitDescendants(root, 2);

    expect((await runCli(['track', String(root), '--originator', `cli:${process.pid}`], env)).stdout).toContain(`tracking pid ${root}`);
    const ps = await runCli(['--json', 'ps', '--originator', 'cli'], env);
    const listed = JSON.parse(ps.stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ pid: root, state: 'alive', originator: `cli:${process.pid}`, cpuPercent: expect.any(Number) });
    expect(listed[0].memoryBytes).toBeGreaterThan(0);
    expect(listed[0].command).toContain('sleep 1000 & sleep 1000 & wait');
    const text = (await runCli(['ps'], env)).stdout;
    expect(text.split('\n')[0]).toMatch(/^PID\s+STATE\s+UPTIME\s+CPU\s+MEM\s+ORIGINATOR\s+COMMAND$/);

    const tree = await runCli(['tree', String(root)], env);
    expect(tree.stdout.split('\n')[0]).toBe(`sh (pid=${root}) /bin/sh -c sleep 1000 & sleep 1000 & wait`);
    expect(tree.stdout).toMatch(/└── sleep \(pid=\d+\) sleep 1000/);
    expect((await runCli(['zombies'], env)).stdout.trim()).toBe('no zombies');

    const killed = await runCli(['--json', 'killtree', String(root)], env);
    expect(JSON.parse(killed.stdout)).toEqual({ pid: root, killed: 3 });
    const zombies = JSON.parse((await runCli(['--json', 'zombies', '--kill'], env)).stdout);
    expect(zombies).toEqual([{ pid: root, command: expect.any(String), reason: expect.stringMatching(/^dead/), killed: false }]);

    const keep = startChild('exec sleep 1000');
    await runCli(['track', String(keep)], env);
    expect((await runCli(['untrack', String(keep)], env)).stdout).toContain(`no longer tracking pid ${keep}`);
    const bad = await runCli(['untrack', String(keep)], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`pid ${keep} is not tracked (NOT_FOUND)`);

    const spawned = JSON.parse((await runCli(['--json', 'spawn-daemon', '--originator', 'cli:1', '--', 'sleep', '1000'], env)).stdout);
    remember(spawned.pid);
    expect(spawned.command).toBe('sleep 1000');
    expect((await daemon.client.listActive()).map((p) => p.kind)).toEqual(['daemon']);
  });
});
