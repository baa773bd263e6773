// SIGKILL of the daemon at the worst moments of a service's life, CI size: between the fork of a
// run and the write of its pid (during SERVICE_START and during a restart), with processes of an
// earlier run still around, between ServiceSave's temp file and its rename, and in the middle of a
// log rotation (live file renamed, the new one not yet in place). Each time the next daemon adopts the one run the dead one started
// (never a second copy, also after a restart), stops what earlier runs left, and its database is
// sound. A sampler checks all along that no two runs of the service ever exist at once. Also
// when the next daemon starts while the process table cannot be listed (issue 21.2: unknown,
// never dead): nothing is restarted, stopped or forgotten until it can be.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { makeTempHome, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { integrityOf, killMarker, logLines, processesWithMarker, waitForNoMarker, waitForNoUnknownProcess } from './crash-helpers';
import { stagedFiles } from '../../src/services/log-rotation';

const daemons: TestDaemon[] = [];
const markers: string[] = [];
const scratch: string[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0).reverse()) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
    else d.client.close();
  }
  for (const m of markers.splice(0)) killMarker(m);
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A stand-in /proc for RUNPM_PROC_ROOT: a link to every process that exists now (and to the files
 * the daemon reads), and, while `unreadable`, an entry whose stat is a directory (EISDIR), so every
 * read of the whole table fails while each process can still be looked at by its pid.
 */
function fakeProcRoot(): { root: string; refresh(unreadable: boolean): void } {
  const root = makeTempHome('rp-proc-');
  scratch.push(root);
  const bad = path.join(root, '999999999');
  const refresh = (unreadable: boolean) => {
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e) && !['self', 'stat', 'uptime'].includes(e)) continue;
      if (!fs.existsSync(path.join(root, e))) fs.symlinkSync(`/proc/${e}`, path.join(root, e));
    }
    if (unreadable) fs.mkdirSync(path.join(bad, 'stat'), { recursive: true });
    else fs.rmSync(bad, { recursive: true, force: true });
  };
  return { root, refresh };
}

function marker(name: string): string {
  const m = `rp-svc-${name}-${process.pid}-${Date.now() % 1e6}`;
  markers.push(m);
  return m;
}

async function start(home?: string, args: string[] = []): Promise<TestDaemon> {
  const d = await startDaemon({ home, args: ['--reaper-interval-ms', '0', ...args] });
  daemons.push(d);
  return d;
}

/** Top-level runs carrying the marker (a shell's forked child briefly shows the same command line). */
function runs(m: string): number[] {
  const all = processesWithMarker(m);
  const pids = new Set(all.map((p) => p.pid));
  return all.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}

/** Samples the number of runs every few ms until stopped; resolves with the most seen at once. */
function sampleRuns(m: string): { stop(): Promise<number> } {
  let most = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      most = Math.max(most, runs(m).length);
      await new Promise((r) => setTimeout(r, 5)); // sampling period, not a synchronisation
    }
  })();
  return { stop: async () => { stopped = true; await loop; return most; } };
}

const steady = (m: string) => ['sh', '-c', `: ${m}; while :; do sleep 0.1; done`];

describe('daemon SIGKILL and service runs', () => {
  it('killed between the fork and the pid write of SERVICE_START: the next daemon adopts that run, and a restart leaves one', async () => {
    const m = marker('start');
    const first = await start(undefined, ['--crash-at', 'service-spawned']);
    await expect(first.client.startService({ name: 'web', cmd: steady(m), minUptimeMs: 50 })).rejects.toThrow();
    await first.exited;
    const [orphan] = await waitFor(() => (runs(m).length === 1 ? runs(m) : null), 'the unrecorded run');
    const sampler = sampleRuns(m);

    const second = await start(first.home);
    const web = await second.client.describeService('web');
    expect(web.pid).toBe(orphan);
    expect(['starting', 'online']).toContain(web.status);
    expect(logLines(second.paths.daemonLogPath, new RegExp(`service web: found run pid ${orphan} that the last daemon did not record; adopting it`))).toHaveLength(1);
    await second.client.restartService('web');
    const after = await second.client.describeService('web');
    expect(after.pid).not.toBe(orphan);
    await waitFor(() => runs(m).length === 1 && runs(m)[0] === after.pid, 'one run, the restarted one');
    expect(await sampler.stop()).toBe(1);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('killed between the fork and the pid write of a restart: the new run is adopted, the old one is gone', async () => {
    const m = marker('restart');
    const first = await start(undefined, ['--crash-at', 'service-spawned:2']);
    const { pid: firstRun } = await first.client.startService({ name: 'web', cmd: steady(m), minUptimeMs: 50 });
    const sampler = sampleRuns(m);
    await expect(first.client.restartService('web')).rejects.toThrow();
    await first.exited;

    const second = await start(first.home);
    const web = await second.client.describeService('web');
    expect(web.pid).not.toBe(firstRun);
    expect(runs(m)).toEqual([web.pid]);
    expect(await sampler.stop()).toBe(1);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('processes an earlier run left behind are stopped; the adopted run keeps its own; nothing unknown survives', async () => {
    const m = marker('leftover');
    const escapee = marker('escapee');
    const first = await start();
    // Each run leaves an escapee in its own session (which the old daemon cannot see once the run
    // exited), then runs until the crash.
    await first.client.startService({
      // The escapee's marker is put together by the shell, so the run's own command line lacks it.
      name: 'leaky', cmd: ['sh', '-c', `P=${escapee.slice(0, -1)}; setsid sh -c "trap '' TERM; sleep 600; : \${P}${escapee.slice(-1)}" & : ${m}; while :; do sleep 0.1; done`],
      minUptimeMs: 50, killTimeoutMs: 300,
    });
    await waitFor(() => processesWithMarker(escapee).length === 1, 'the first escapee');
    // The run dies on its own: the service restarts and a second escapee appears.
    process.kill(runs(m)[0], 'SIGKILL');
    await waitFor(() => processesWithMarker(escapee).length === 2 && runs(m).length === 1, 'the second run and its escapee');
    const current = runs(m)[0];
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = await start(first.home);
    // The first run's escapee (sh and its sleep) is a leftover; the adopted run's own escapee belongs to it.
    await waitFor(() => processesWithMarker(escapee).length === 1, 'the leftover of the first run stopped');
    expect((await second.client.describeService('leaky')).pid).toBe(current);
    expect(logLines(second.paths.daemonLogPath, /service leaky: stopping 2 process\(es\) of an earlier run/)).toHaveLength(1);
    await second.client.stopService('leaky');
    await waitForNoMarker(m, 'the service run');
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('the next daemon cannot list the process table at start: the unrecorded run waits, then is adopted; the lost session is stopped once it can look, its own left alone', async () => {
    const m = marker('unreadable');
    const session = marker('unreadable-session');
    const first = await start(undefined, ['--crash-at', 'service-spawned']);
    const { sessionId } = await first.client.spawnPipe({ argv: ['sh', '-c', `: ${session}; sleep 600`] });
    await expect(first.client.startService({ name: 'web', cmd: steady(m), minUptimeMs: 50 })).rejects.toThrow();
    await first.exited;
    const [orphan] = await waitFor(() => (runs(m).length === 1 ? runs(m) : null), 'the unrecorded run');
    const sampler = sampleRuns(m);

    const proc = fakeProcRoot();
    proc.refresh(true);
    const second = await startDaemon({ home: first.home, args: ['--reaper-interval-ms', '0'], env: { RUNPM_PROC_ROOT: proc.root } });
    daemons.push(second);
    await waitFor(() => logLines(second.paths.daemonLogPath, /services: cannot read .*EISDIR.*web may have a run the last daemon did not record: neither adopted nor restarted/).length === 1, 'the services waiting for a readable table');
    // Some retries while the table stays unreadable: no second run, nothing stopped.
    await waitFor(() => logLines(second.paths.daemonLogPath, /crash recovery: cannot read .*EISDIR/).length >= 1, 'the session recovery waiting too');
    const waiting = await second.client.describeService('web');
    expect([waiting.pid, waiting.restartCount]).toEqual([0, 0]);
    expect(runs(m)).toEqual([orphan]);
    expect(processesWithMarker(session).length).toBeGreaterThan(0);
    // A session of this daemon carries the same scope tag: the recovery's later look must leave it.
    const own = marker('unreadable-own');
    const { sessionId: ownId } = await second.client.spawnPipe({ argv: ['sh', '-c', `: ${own}; sleep 600`] });

    proc.refresh(false);
    await waitFor(async () => (await second.client.describeService('web')).pid === orphan, 'the unrecorded run adopted once the table can be read');
    await waitForNoMarker(session, 'the lost session');
    expect(logLines(second.paths.daemonLogPath, new RegExp(`crash recovery: pipe session ${sessionId}`))).toHaveLength(1);
    expect(logLines(second.paths.daemonLogPath, new RegExp(`crash recovery: .* session ${ownId}`))).toEqual([]);
    expect(processesWithMarker(own).length).toBeGreaterThan(0);
    expect((await second.client.listPipes()).find((p) => p.sessionId === ownId)?.exited).toBe(false);
    expect(await sampler.stop()).toBe(1);
    expect(runs(m)).toEqual([orphan]);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('killed during ServiceSave: the last acknowledged snapshot is intact, the temp file goes at the next start', async () => {
    const m = marker('save');
    const first = await start(undefined, ['--crash-at', 'save-temp-written:2']);
    await first.client.startService({ name: 'one', cmd: steady(m), minUptimeMs: 50 });
    const saved = await first.client.saveServices();
    const before = fs.readFileSync(saved.snapshotPath, 'utf8');
    await first.client.startService({ name: 'two', cmd: steady(m), minUptimeMs: 50 });
    await expect(first.client.saveServices()).rejects.toThrow();
    await first.exited;
    const dir = path.dirname(saved.snapshotPath);
    const temps = () => fs.readdirSync(dir).filter((f) => f.startsWith('services.dump.json.tmp-'));
    expect(temps()).toHaveLength(1);
    expect(fs.readFileSync(saved.snapshotPath, 'utf8')).toBe(before);

    const second = await start(first.home);
    expect(temps()).toEqual([]);
    expect(logLines(second.paths.daemonLogPath, /removed services\.dump\.json\.tmp-\d+, left by a ServiceSave that a crash interrupted/)).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(saved.snapshotPath, 'utf8')).services.map((e: { name: string }) => e.name)).toEqual(['one']);
    expect((await second.client.listServices()).map((x) => x.name).sort()).toEqual(['one', 'two']);
    expect(runs(m)).toHaveLength(2);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('killed in the middle of a log rotation: the next daemon finishes it, and every line is there once, in order', async () => {
    const m = marker('rotate');
    const lines = 40_000; // 229 KB: about 56 files of 4 KiB; the run blocks on its full pipe while no daemon reads
    const first = await start(undefined, ['--crash-at', 'log-rotated:5']);
    // The crash may come before or after the start is answered: the run is adopted either way.
    const cmd = ['python3', '-c', `import sys, time\nfor i in range(1, ${lines + 1}): print(i)\nsys.stdout.flush()\ntime.sleep(600)`, m];
    await first.client.startService({ name: 'numbers', cmd, minUptimeMs: 50, logMaxBytes: 4096, logMaxFiles: 100 }).catch(() => null);
    await first.exited;
    const out = path.join(first.paths.logsDir, 'numbers-out.log');
    // Killed between the renames: the live file moved to .1, the next piece staged, not yet renamed in.
    expect(stagedFiles(out).length).toBeGreaterThan(0);
    expect(fs.existsSync(out)).toBe(false);
    expect(runs(m)).toHaveLength(1);

    const second = await start(first.home);
    // The live file is briefly absent while a rotation renames it away and the next one in.
    const live = (): string => { try { return fs.readFileSync(out, 'utf8'); } catch { return ''; } };
    await waitFor(() => live().endsWith(`\n${lines}\n`), 'the last line written by the next daemon', 30_000);
    expect(stagedFiles(out)).toEqual([]);
    const seen: number[] = [];
    for (let i = 100; i >= 1; i--) if (fs.existsSync(`${out}.${i}`)) seen.push(...fs.readFileSync(`${out}.${i}`, 'utf8').split('\n').filter(Boolean).map(Number));
    seen.push(...fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number));
    expect(seen.length).toBe(lines);
    expect(seen.findIndex((n, i) => n !== i + 1)).toBe(-1);
    expect(runs(m)).toEqual([(await second.client.describeService('numbers')).pid]);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });
});
