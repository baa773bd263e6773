// GroupEscalation against real process trees: SIGTERM to the group, SIGKILL after the grace to the
// group and to escapees (setsid) that ignore SIGTERM, kill() cutting a grace short, cancel(), and
// a stale start time that must never signal the pid's current holder.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupEscalation, terminateGroupTree } from '../../src/proc/kill-escalation';
import { listDescendants, readStartTime, readProcStat } from '../../src/proc/process-table';
import { waitFor, isAlive } from '../helpers/daemon';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    for (const p of [pid, ...listDescendants(pid)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
});

/** A detached sh (own group and session) running script; stdout lines are collected. */
function startLeader(script: string): { child: ChildProcess; pid: number; lines: string[] } {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  started.push(child.pid!);
  return { child, pid: child.pid!, lines };
}

/** Waits for n lines of pids and remembers them for cleanup. */
async function pidsPrinted(lines: string[], n: number): Promise<number[]> {
  const pids = await waitFor(() => (lines.length >= n ? lines.slice(0, n).map(Number) : null), `${n} pids printed`);
  started.push(...pids);
  return pids;
}

const IGNORE_TERM = "trap '' TERM; ";
/** An escapee in its own session (ignoring TERM too when the shell does). */
const ESCAPEE = 'setsid sleep 301 & echo $!; ';

describe('GroupEscalation', () => {
  it('SIGTERM alone ends a cooperative tree: nobody needs SIGKILL', async () => {
    const { pid, lines } = startLeader('sleep 300 & echo $!; wait');
    const [bg] = await pidsPrinted(lines, 1);
    let hard = 0;
    const esc = new GroupEscalation(pid, readStartTime(pid), { onHardKill: () => hard++ });
    expect(await esc.terminate(5000)).toBe(0);
    expect(hard).toBe(0);
    expect(isAlive(pid) || isAlive(bg)).toBe(false);
  });

  it('SIGKILLs a SIGTERM-ignoring leader and its setsid escapee after the grace', async () => {
    const { pid, lines } = startLeader(`${IGNORE_TERM}${ESCAPEE}while true; do sleep 0.05; done`);
    const [escapee] = await pidsPrinted(lines, 1);
    await waitFor(() => readProcStat(escapee)?.session === escapee, 'escapee in its own session');
    let hard = 0;
    const esc = new GroupEscalation(pid, readStartTime(pid), { onHardKill: () => hard++ });
    expect(await esc.terminate(200)).toBeGreaterThanOrEqual(2);
    expect(hard).toBe(1);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(escapee)).toBe(false);
  });

  it('still finds the group after its leader exited and was reaped', async () => {
    const { child, pid, lines } = startLeader(`${IGNORE_TERM}sleep 302 & echo $!`);
    const esc = new GroupEscalation(pid, readStartTime(pid));
    const [orphan] = await pidsPrinted(lines, 1);
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    expect(readProcStat(orphan)?.pgrp).toBe(pid);
    expect(await esc.terminate(100)).toBe(1);
    expect(isAlive(orphan)).toBe(false);
  });

  it('kill() cuts a running grace short; the pending terminate shares its result', async () => {
    const { pid, lines } = startLeader(`${IGNORE_TERM}echo up; while true; do sleep 0.05; done`);
    await waitFor(() => lines.length > 0, 'shell up');
    const esc = new GroupEscalation(pid, readStartTime(pid));
    // A grace longer than the test timeout: only kill() can end this.
    const pending = esc.terminate(600_000);
    const killed = esc.kill();
    // The first SIGKILL pass ran before kill() returned.
    await waitFor(() => !isAlive(pid), 'leader killed');
    expect(await killed).toBeGreaterThanOrEqual(1);
    expect(await pending).toBeGreaterThanOrEqual(1);
  });

  it('cancel() ends a grace without SIGKILL', async () => {
    const { pid, lines } = startLeader(`${IGNORE_TERM}echo up; while true; do sleep 0.05; done`);
    await waitFor(() => lines.length > 0, 'shell up');
    let hard = 0;
    const esc = new GroupEscalation(pid, readStartTime(pid), { onHardKill: () => hard++ });
    const pending = esc.terminate(600_000);
    esc.cancel();
    expect(await pending).toBe(0);
    expect(hard).toBe(0);
    expect(isAlive(pid)).toBe(true);
  });

  it('never signals a pid whose start time differs (pid reuse)', async () => {
    const { pid, lines } = startLeader('echo up; sleep 303');
    await waitFor(() => lines.length > 0, 'shell up');
    expect(await terminateGroupTree({ pid, startTicks: readStartTime(pid)! + 1 }, 100)).toBe(0);
    expect(isAlive(pid)).toBe(true);
  });
});
