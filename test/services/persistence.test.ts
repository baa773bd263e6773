// Black-box: services outlive their daemon. SIGKILL the daemon and a new one re-adopts the same
// pids (no duplicates, logs continue without a line lost); save → daemon stop → start → resurrect restores exactly the
// services saved as online; bad snapshots change nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempHome, startDaemon, waitFor, isAlive, type TestDaemon } from '../helpers/daemon';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { shService, waitStatus } from './helpers';

let daemons: TestDaemon[] = [];
let strayPids: number[] = [];
afterEach(async () => {
  for (const d of daemons.reverse()) await d.stop();
  for (const pid of strayPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  daemons = [];
  strayPids = [];
});

async function daemonAt(home: string, args: string[] = []): Promise<TestDaemon> {
  const d = await startDaemon({ home, args });
  daemons.push(d);
  return d;
}

/** Processes whose command line carries marker (each service's sh has its own). */
/**
 * Service runs whose command line carries the marker. A shell's child between fork and exec
 * (about to become `sleep`) briefly shows the same command line: count only processes whose
 * parent is not itself a match.
 */
function processesWith(marker: string): number[] {
  const all = matchingPids(marker);
  return all.filter((pid) => !all.includes(parentOf(pid)));
}

function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e) && parentOf(Number(e)) === pid).map(Number);
}

function parentOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function matchingPids(marker: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker) && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return out;
}

const counter = (name: string) => shService(name, `: marker-${name}-${process.pid}; i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done`);

function counts(file: string): number[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

async function expectCode(p: Promise<unknown>, code: StatusCode, text: string): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DaemonError);
  expect((err as DaemonError).code).toBe(code);
  expect((err as DaemonError).message).toContain(text);
}

describe('daemon crash', () => {
  it('re-adopts the same pids after SIGKILL, logs continue, no duplicates, and restarts the one that died meanwhile', async () => {
    const home = makeTempHome();
    const d1 = await daemonAt(home);
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    for (const n of names) await d1.client.startService(counter(n));
    const before = new Map((await d1.client.listServices()).map((s) => [s.name, s]));
    strayPids.push(...[...before.values()].map((s) => s.pid));
    d1.proc.kill('SIGKILL');
    await d1.exited;
    // Services do not depend on the daemon: they keep running, and what they print waits in their
    // log pipe (the file does not grow until a daemon reads it).
    for (const s of before.values()) expect(isAlive(s.pid)).toBe(true);
    const outAlpha = path.join(d1.paths.logsDir, 'alpha-out.log');
    const linesAtCrash = counts(outAlpha).length;
    // Its loop goes on: a new `sleep` child (it would be stuck in a blocked echo otherwise).
    const sleepsAtCrash = childrenOf(before.get('alpha')!.pid);
    await waitFor(() => childrenOf(before.get('alpha')!.pid).some((c) => !sleepsAtCrash.includes(c)), 'alpha to keep running without a daemon');
    // delta dies while no daemon watches.
    process.kill(before.get('delta')!.pid, 'SIGKILL');
    await waitFor(() => !isAlive(before.get('delta')!.pid), 'delta gone');

    const d2 = await daemonAt(home);
    const after = new Map((await d2.client.listServices()).map((s) => [s.name, s]));
    for (const n of ['alpha', 'beta', 'gamma']) {
      expect(after.get(n)!.pid).toBe(before.get(n)!.pid);
      expect(after.get(n)!.id).toBe(before.get(n)!.id);
      expect(['online', 'starting']).toContain(after.get(n)!.status);
      expect(after.get(n)!.restartCount).toBe(0);
    }
    const delta = await waitFor(async () => {
      const s = await d2.client.describeService('delta');
      return s.pid !== 0 && s.pid !== before.get('delta')!.pid ? s : null;
    }, 'delta restarted by the new daemon');
    expect(delta.restartCount).toBe(1);
    strayPids.push(delta.pid);
    // Exactly one run per service.
    for (const n of names) expect(processesWith(`marker-${n}-${process.pid}`)).toHaveLength(1);
    // The log is one continuous run: the counter never started over, and what alpha printed while
    // no daemon ran is in it.
    await waitFor(() => counts(outAlpha).length > linesAtCrash + 2, 'alpha logging under the new daemon');
    const seq = counts(outAlpha);
    expect(seq).toEqual(seq.map((_, i) => i));

    // The new daemon supervises adopted runs: a death is noticed and restarted.
    process.kill(before.get('beta')!.pid, 'SIGKILL');
    const beta = await waitFor(async () => {
      const s = await d2.client.describeService('beta');
      return s.pid !== 0 && s.pid !== before.get('beta')!.pid ? s : null;
    }, 'beta restarted after its adopted run died');
    expect(beta.restartCount).toBe(1);
    expect(beta.lastExitCode).toBe(-1);
    // And stopping an adopted run kills it.
    expect(await d2.client.stopService('gamma')).toBe(1);
    expect(isAlive(before.get('gamma')!.pid)).toBe(false);
  });

  it('adopts a run the crashed daemon spawned but never recorded, instead of starting a second one', async () => {
    const home = makeTempHome();
    const d1 = await daemonAt(home);
    await d1.client.startService(counter('orphan'));
    const run = await d1.client.describeService('orphan');
    strayPids.push(run.pid);
    d1.proc.kill('SIGKILL');
    await d1.exited;
    // The crash window: the run exists, the database does not know its pid.
    const Sqlite = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Sqlite(d1.paths.dbPath);
    db.prepare('UPDATE services SET pid = 0, start_time = 0 WHERE name = ?').run('orphan');
    db.close();
    const d2 = await daemonAt(home);
    const after = await d2.client.describeService('orphan');
    expect(after.pid).toBe(run.pid);
    expect(after.restartCount).toBe(0);
    expect(processesWith(`marker-orphan-${process.pid}`)).toEqual([run.pid]);
    expect(fs.readFileSync(d2.paths.daemonLogPath, 'utf8')).toContain(`found run pid ${run.pid} that the last daemon did not record`);
    // It is supervised like any adopted run: stopping it kills it.
    expect(await d2.client.stopService('orphan')).toBe(1);
    expect(isAlive(run.pid)).toBe(false);
  });
});

describe('save and resurrect', () => {
  it('save → daemon stop → daemon start → resurrect restores exactly the online ones, idempotently', async () => {
    const home = makeTempHome();
    const d1 = await daemonAt(home);
    for (const n of ['a', 'b', 'c']) await d1.client.startService(shService(n, 'exec sleep 60'));
    await d1.client.stopService('c');
    const saved = await d1.client.saveServices();
    expect(saved.serviceCount).toBe(3);
    expect(saved.snapshotPath).toBe(path.join(d1.paths.stateDir, 'services.dump.json'));
    expect(fs.existsSync(`${saved.snapshotPath}.bak`)).toBe(false);
    await d1.client.saveServices();
    expect(fs.existsSync(`${saved.snapshotPath}.bak`)).toBe(true);
    const pids = (await d1.client.listServices()).map((s) => s.pid).filter(Boolean);
    expect(pids).toHaveLength(2);

    // A graceful daemon stop stops every service, like pm2 kill.
    await d1.client.shutdown({ graceful: true, timeoutSeconds: 2 });
    await d1.exited;
    for (const pid of pids) expect(isAlive(pid)).toBe(false);

    const d2 = await daemonAt(home);
    expect((await d2.client.listServices()).map((s) => [s.name, s.status])).toEqual([['a', 'stopped'], ['b', 'stopped'], ['c', 'stopped']]);
    expect(await d2.client.resurrectServices()).toEqual({ restoredCount: 3, startedCount: 2 });
    const list = await d2.client.listServices();
    expect(list.map((s) => [s.name, s.id, s.status === 'stopped' ? 'stopped' : 'running'])).toEqual([['a', 0, 'running'], ['b', 1, 'running'], ['c', 2, 'stopped']]);
    // Idempotent: nothing started twice.
    expect(await d2.client.resurrectServices()).toEqual({ restoredCount: 3, startedCount: 0 });
    expect((await d2.client.listServices()).map((s) => s.pid)).toEqual(list.map((s) => s.pid));
  });

  it('a daemon started with --resurrect restores the snapshot itself', async () => {
    const home = makeTempHome();
    const d1 = await daemonAt(home);
    await d1.client.startService(shService('boot', 'exec sleep 60'));
    await d1.client.saveServices();
    await d1.client.shutdown({ graceful: true, timeoutSeconds: 2 });
    await d1.exited;
    const d2 = await daemonAt(home, ['--resurrect']);
    const s = await waitFor(async () => (await d2.client.listServices()).find((x) => x.name === 'boot' && x.pid !== 0), 'boot resurrected');
    expect(isAlive(s.pid)).toBe(true);
  });

  it('missing → NOT_FOUND; corrupt or unknown version → INVALID_ARGUMENT and nothing changed', async () => {
    const d = await daemonAt(makeTempHome());
    const c = d.client;
    const file = path.join(d.paths.stateDir, 'services.dump.json');
    await expectCode(c.resurrectServices(), StatusCode.STATUS_CODE_NOT_FOUND, file);
    await c.startService(shService('keep', 'exec sleep 60'));
    await c.saveServices();
    await c.deleteService('keep');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good.slice(0, good.length / 2));
    await expectCode(c.resurrectServices(), StatusCode.STATUS_CODE_INVALID_ARGUMENT, 'corrupt');
    fs.writeFileSync(file, good.replace('"version": 1', '"version": 99'));
    await expectCode(c.resurrectServices(), StatusCode.STATUS_CODE_INVALID_ARGUMENT, 'unknown version 99');
    fs.writeFileSync(file, good.replace('"exec sleep 60"', '7'));
    await expectCode(c.resurrectServices(), StatusCode.STATUS_CODE_INVALID_ARGUMENT, 'cmd[2]');
    expect(await c.listServices()).toEqual([]);
    fs.writeFileSync(file, good);
    expect(await c.resurrectServices()).toEqual({ restoredCount: 1, startedCount: 1 });
  });
});
