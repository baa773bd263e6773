// Unit tests of the consolidated /proc reader: stat fields (terminal group included), start-time
// checked liveness, and the group tree (group, session, escaped descendants) of synthetic tables
// whose pids lie above PID_MAX_LIMIT, so no real process can match.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseProcStat, parseTerminalGroup, readTerminalGroup, isSameProcessAlive, readStartTime, readCwd, readLiveProcessTable, type ProcStat,
} from '../../src/proc/process-table';
import { collectGroupTree } from '../../src/proc/kill-escalation';
import { waitFor, isAlive } from '../helpers/daemon';

const BASE = 5_000_000;
const children: number[] = [];
afterEach(() => {
  for (const pid of children.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

function stat(pid: number, ppid: number, pgrp: number, session: number, startTicks = 100): ProcStat {
  return { pid, ppid, comm: 'x', state: 'S', pgrp, session, startTicks };
}

describe('stat parsing', () => {
  const line = '123 (a b) c)) S 1 123 123 34816 456 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0';
  it('reads fields after a command name holding spaces and parentheses', () => {
    expect(parseProcStat(line)).toEqual({ pid: 123, comm: 'a b) c)', state: 'S', ppid: 1, pgrp: 123, session: 123, startTicks: 98765 });
  });
  it('reads the terminal foreground group (tpgid), null for a malformed line', () => {
    expect(parseTerminalGroup(line)).toBe(456);
    expect(parseTerminalGroup('12 (x) S 1 2')).toBeNull();
  });
});

describe('live processes', () => {
  it('isSameProcessAlive needs the same start time and a process that has not exited', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid!;
    children.push(pid);
    const start = readStartTime(pid)!;
    expect(isSameProcessAlive(pid, start)).toBe(true);
    expect(isSameProcessAlive(pid, start + 1)).toBe(false);
    expect(readTerminalGroup(pid)).toEqual(expect.any(Number));
    expect(readCwd(pid)).toBe(process.cwd());
    expect(readLiveProcessTable().get(pid)?.startTicks).toBe(start);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(pid, 'SIGKILL');
    await exited;
    await waitFor(() => !isAlive(pid), 'sleep gone');
    expect(isSameProcessAlive(pid, start)).toBe(false);
    expect(readCwd(BASE)).toBeNull();
    expect(readTerminalGroup(BASE)).toBeNull();
  });
});

describe('collectGroupTree', () => {
  const L = BASE + 1;
  const table = new Map<number, ProcStat>([
    [L, stat(L, 1, L, L)],
    // In the group.
    [BASE + 2, stat(BASE + 2, L, L, L)],
    // setpgid: same session, own group, parent gone (reparented to init).
    [BASE + 3, stat(BASE + 3, 1, BASE + 3, L)],
    // setsid child of a group member, and its own child.
    [BASE + 4, stat(BASE + 4, BASE + 2, BASE + 4, BASE + 4)],
    [BASE + 5, stat(BASE + 5, BASE + 4, BASE + 4, BASE + 4)],
    // Unrelated.
    [BASE + 6, stat(BASE + 6, 1, BASE + 6, BASE + 6)],
    [BASE + 7, stat(BASE + 7, BASE + 6, BASE + 6, BASE + 6)],
  ]);

  it('takes group and session members and every descendant, nothing else', () => {
    expect(collectGroupTree(L, table).map((p) => p.pid).sort()).toEqual([L, BASE + 2, BASE + 3, BASE + 4, BASE + 5]);
  });

  it('never includes the excluded pid (the daemon) or what hangs below it', () => {
    expect(collectGroupTree(L, table, BASE + 4).map((p) => p.pid).sort()).toEqual([L, BASE + 2, BASE + 3]);
  });

  it('finds group members after the leader is gone', () => {
    const noLeader = new Map(table);
    noLeader.delete(L);
    expect(collectGroupTree(L, noLeader).map((p) => p.pid).sort()).toEqual([BASE + 2, BASE + 3, BASE + 4, BASE + 5]);
  });
});
