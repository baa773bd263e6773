// SIGKILL of the daemon with sessions running, CI size: the next daemon on the same home finds every
// process the dead one started (recorded leaders, a child forked just before the crash and never
// recorded, escaped grandchildren), reports each session once (daemon.log and the NOT_FOUND
// answer naming what happened) and stops them all; the database stays sound and the journal
// empties. Also: an attached client sees its stream end instead of hanging.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { StatusCode } from '../../src/wire/proto';
import { integrityOf, killMarker, logLines, processesWithMarker, rowCount, unknownProcesses, waitForNoMarker, waitForNoUnknownProcess } from './crash-helpers';
import { spawn } from 'node:child_process';

const daemons: TestDaemon[] = [];
const markers: string[] = [];
afterEach(async () => {
  // Only the last daemon of a home is stopped normally (it removes the home).
  for (const d of daemons.splice(0).reverse()) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
    else d.client.close();
  }
  for (const m of markers.splice(0)) killMarker(m);
});

function marker(name: string): string {
  const m = `rp-crash-${name}-${process.pid}-${Date.now() % 1e6}`;
  markers.push(m);
  return m;
}

async function start(home?: string, args: string[] = []): Promise<TestDaemon> {
  const d = await startDaemon({ home, args: ['--reaper-interval-ms', '0', ...args] });
  daemons.push(d);
  return d;
}

async function crash(d: TestDaemon): Promise<void> {
  d.proc.kill('SIGKILL');
  await d.exited;
}

async function expectNotFoundNaming(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e as { code?: number; message: string });
  expect(err, 'expected NOT_FOUND').not.toBeNull();
  expect(err!.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
  expect(err!.message).toMatch(pattern);
}

describe('daemon SIGKILL with sessions running', () => {
  it('the next daemon reports each pipe and PTY session once and stops every process of them, escapees included', async () => {
    const m = marker('sessions');
    const first = await start();
    const pipe = await first.client.spawnPipe({ argv: ['sh', '-c', `: ${m}; setsid sh -c "trap '' TERM HUP; sleep 600; : ${m}" & echo up; sleep 600; : ${m}`] });
    const pty = await first.client.spawnPty({ argv: ['sh', '-c', `trap '' HUP; : ${m}; echo up; while :; do sleep 1; done`] });
    await waitFor(async () => Buffer.from((await first.client.backlog(pipe.sessionId)).backlog).toString().includes('up'), 'the pipe session to start');
    await waitFor(() => processesWithMarker(m).length >= 3, 'the escapee and the PTY shell');
    expect(rowCount(first.paths.dbPath, 'session_children')).toBe(2);

    await crash(first);
    // Both survive the crash: the PTY shell ignores the hangup, the escapee everything but SIGKILL.
    expect(processesWithMarker(m).length).toBeGreaterThanOrEqual(3);

    const second = await start(first.home);
    await waitForNoMarker(m, 'a process of the lost sessions');
    await waitFor(() => logLines(second.paths.daemonLogPath, /crash recovery: 2 lost session\(s\) of runpmd pid \d+ handled/).length > 0, 'the recovery summary');
    expect(logLines(second.paths.daemonLogPath, new RegExp(`crash recovery: pipe session ${pipe.sessionId}`))).toHaveLength(1);
    await expectNotFoundNaming(second.client.attachPipe(pipe.sessionId), new RegExp(`lost when runpmd pid ${first.pid} died`));
    await expectNotFoundNaming(second.client.attachPty(pty.sessionId), /stopped its \d+ process\(es\)/);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
    expect(rowCount(second.paths.dbPath, 'session_children')).toBe(0);
    // The new daemon's own sessions are unaffected.
    const fresh = await second.client.spawnPipe({ argv: ['sh', '-c', 'echo fresh'] });
    await waitFor(async () => (await second.client.listPipes()).find((s) => s.sessionId === fresh.sessionId)?.exited, 'a new session');
    // The check itself sees a process of this scope that the daemon does not list.
    const stray = spawn('sleep', ['600'], { stdio: 'ignore', env: { ...process.env, RUNPM_SESSION_SCOPE: second.paths.scopeHash, RUNPM_SESSION_ID: 'not-a-session' } });
    try {
      await waitFor(async () => (await unknownProcesses(second)).includes(`pid ${stray.pid}: session not-a-session`), 'the stray process seen as unknown');
    } finally {
      stray.kill('SIGKILL');
    }
  });

  it('a child forked just before the crash, never recorded, is found by its scope tag and stopped', async () => {
    const m = marker('unrecorded');
    const first = await start(undefined, ['--crash-at', 'session-spawned']);
    const spawned = first.client.spawnPipe({ argv: ['sh', '-c', `sleep 600; : ${m}`] });
    await expect(spawned).rejects.toThrow();
    await first.exited;
    await waitFor(() => processesWithMarker(m).length === 1, 'the unrecorded child');
    expect(rowCount(first.paths.dbPath, 'session_children')).toBe(0);

    const second = await start(first.home);
    await waitForNoMarker(m, 'the unrecorded child');
    await waitFor(() => logLines(second.paths.daemonLogPath, /crash recovery: unknown session [0-9a-f-]{36} /).length === 1, 'its report');
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });

  it('an attached client sees its stream end when the daemon dies; the next daemon stops the session', async () => {
    const m = marker('attached');
    const first = await start();
    const pty = await first.client.spawnPty({ argv: ['sh', '-c', `trap '' HUP; : ${m}; while :; do echo tick; sleep 0.05; done`] });
    const att = await first.client.attachPty(pty.sessionId);
    let ticks = 0;
    const reader = (async () => {
      for (;;) {
        const f = await att.next().catch(() => null);
        if (!f) return 'ended';
        if (f.kind === 'output' && f.data.toString().includes('tick')) ticks++;
      }
    })();
    await waitFor(() => ticks >= 3, 'live output on the attachment');
    await crash(first);
    expect(await reader).toBe('ended');

    const second = await start(first.home);
    await waitForNoMarker(m, 'the attached session');
    await waitFor(() => logLines(second.paths.daemonLogPath, /crash recovery: 1 lost session/).length === 1, 'the recovery summary');
    expect(logLines(second.paths.daemonLogPath, new RegExp(`crash recovery: pty session ${pty.sessionId}`))).toHaveLength(1);
    expect(fs.existsSync(second.paths.dbPath)).toBe(true);
    await waitForNoUnknownProcess(second);
    expect(integrityOf(second.paths.dbPath)).toBe('ok');
  });
});
