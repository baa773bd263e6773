// The two process-table sources side by side: the ps fallback (what macOS uses) agrees with /proc
// about real processes and is enough to stop a tree; a /proc read that fails for another reason
// than "no such process" (here a fake root whose stat is a directory: EISDIR) reads as unknown,
// never as dead; and a whole daemon on a fake, empty /proc root (so on ps) still stops sessions,
// registers processes and kills trees.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { PsBackend, parseCpuTime, parseLstart, parsePsStatLine } from '../../src/proc/ps-backend';
import { ProcfsBackend } from '../../src/proc/procfs-backend';
import { ProcUnreadableError } from '../../src/proc/proc-backend';
import { checkLiveness, procBackend, setProcBackend, startTicksToEpochSeconds } from '../../src/proc/process-table';
import { GroupEscalation } from '../../src/proc/kill-escalation';
import { clockTicksPerSecond } from '../../src/proc/clock';
import '../../src/client/index';
import { isAlive, makeTempHome, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';

const started: number[] = [];
let daemon: TestDaemon | null = null;
let scratch: string | null = null;
afterEach(async () => {
  setProcBackend(null);
  await daemon?.stop();
  daemon = null;
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

/** A detached sh (own session and group) that prints the pid of a background child. */
function startLeader(script: string, env: NodeJS.ProcessEnv = {}): { pid: number; lines: string[] } {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'], detached: true, env: { ...process.env, ...env } });
  const lines: string[] = [];
  child.stdout!.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  started.push(child.pid!);
  return { pid: child.pid!, lines };
}

describe('ps output parsing', () => {
  it('reads a stat line whose command holds spaces, and lstart in UTC', () => {
    const row = parsePsStatLine('  4242     1  4242  4242 Ss   Thu Dec  3 07:57:55 2026 my prog', 100);
    expect(row).toEqual({
      pid: 4242, ppid: 1, pgrp: 4242, tpgid: 4242, state: 'S', session: 4242, comm: 'my prog', startTicks: Date.UTC(2026, 11, 3, 7, 57, 55) / 10,
    });
    expect(parsePsStatLine('12 1 12 -1 S+ Thu Dec 3 07:57:55 2026 x', 100)!.session).toBe(-1);
    expect(parsePsStatLine('garbage', 100)).toBeNull();
    expect(parseLstart(['Thu', 'Foo', '3', '07:57:55', '2026'])).toBeNaN();
  });

  it('reads cpu times as procps and BSD ps print them', () => {
    expect(parseCpuTime('00:01:05')).toBe(65);
    expect(parseCpuTime('2-01:00:00')).toBe(2 * 86400 + 3600);
    expect(parseCpuTime('1:02.50')).toBeCloseTo(62.5);
    expect(parseCpuTime('x')).toBeNaN();
  });
});

describe('the ps fallback next to /proc', () => {
  const ps = new PsBackend();
  const procfs = new ProcfsBackend('/proc');

  it('agrees on a real tree: pid, parent, group, session leader, state, start time to the second', async () => {
    const { pid, lines } = startLeader('sleep 300 & echo $!; wait', { RUNPM_TEST_TAG: 'ps-backend' });
    const [kid] = await waitFor(() => (lines.length > 0 ? lines.map(Number) : null), 'the child pid');
    started.push(kid);
    for (const p of [pid, kid]) {
      const a = ps.readStat(p)!;
      const b = procfs.readStat(p)!;
      expect({ pid: a.pid, ppid: a.ppid, pgrp: a.pgrp }).toEqual({ pid: b.pid, ppid: b.ppid, pgrp: b.pgrp });
      expect(a.session).toBe(p === pid ? pid : -1);
      const psStart = a.startTicks / clockTicksPerSecond();
      const procStart = procfs.startTicksEpochSeconds() + b.startTicks / clockTicksPerSecond();
      expect(Math.abs(psStart - procStart)).toBeLessThanOrEqual(1.5);
    }
    expect(ps.readTable().get(kid)?.ppid).toBe(pid);
    expect(ps.readCmdline(pid)!.join(' ')).toContain('sleep 300 & echo');
    expect(ps.readEnviron(pid)).toContain('RUNPM_TEST_TAG=ps-backend');
    expect(ps.readTimes([pid]).get(pid)!.rssBytes).toBeGreaterThan(0);
    expect(ps.readStat(2 ** 22 + 7)).toBeNull();
  });

  it('is enough for group escalation: SIGTERM to the group, SIGKILL for a setsid escapee that ignores it', async () => {
    setProcBackend(ps);
    const { pid, lines } = startLeader("trap '' TERM; setsid sh -c \"trap '' TERM; sleep 301\" & echo $!; while :; do sleep 0.05; done");
    const [escapee] = await waitFor(() => (lines.length > 0 ? lines.map(Number) : null), 'the escapee pid');
    started.push(escapee);
    await waitFor(() => ps.readStat(escapee)?.session === escapee, 'the escapee in its own session');
    const esc = new GroupEscalation(pid);
    expect(await esc.terminate(300)).toBeGreaterThanOrEqual(2);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(escapee)).toBe(false);
  });
});

describe('a /proc that cannot be read', () => {
  it('reads as unknown, never as dead, and the table read throws', () => {
    scratch = makeTempHome('rp-fakeproc-');
    fs.mkdirSync(path.join(scratch, 'self'));
    fs.writeFileSync(path.join(scratch, 'self', 'stat'), '1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n');
    // A stat that is a directory fails with EISDIR: a read error that is not "no such process".
    fs.mkdirSync(path.join(scratch, '4242', 'stat'), { recursive: true });
    const fake = new ProcfsBackend(scratch);
    setProcBackend(fake);
    expect(() => fake.readStat(4242)).toThrow(ProcUnreadableError);
    expect(() => fake.readTable()).toThrow(/EISDIR/);
    expect(checkLiveness({ pid: 4242, startTicks: 5 })).toBe('unknown');
    expect(checkLiveness({ pid: 4243, startTicks: 5 })).toBe('dead');
  });
});

describe('a daemon without /proc (fake empty RUNPM_PROC_ROOT: the ps fallback)', () => {
  it('stops sessions, registers processes with their start time and kills trees', async () => {
    scratch = makeTempHome('rp-noproc-');
    daemon = await startDaemon({ env: { RUNPM_PROC_ROOT: scratch } });
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', "trap '' TERM; sleep 300 & echo $!; wait"] });
    started.push(s.pid);
    await c.terminate(s.sessionId, 300);
    await waitFor(async () => (await c.listPipes()).find((x) => x.sessionId === s.sessionId)?.exited, 'the session to end');
    const [info] = (await c.listPipes()).filter((x) => x.sessionId === s.sessionId);
    expect(info).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });

    const { pid } = startLeader('sleep 300 & wait');
    await c.register({ pid, createdAt: 0, kind: 'test', command: 'sh', cwd: '/', originator: '', containment: '' });
    const [row] = await c.listActive();
    expect(row.pid).toBe(pid);
    expect(Math.abs(row.createdAt - Date.now() / 1000)).toBeLessThan(30);
    expect(await c.killTree(pid, 3)).toBe(2);
    expect(isAlive(pid)).toBe(false);
    // Sanity: this test process itself still reads the real /proc.
    expect(procBackend().name).toBe('procfs');
    expect(startTicksToEpochSeconds(0)).toBeGreaterThan(0);
  });
});
