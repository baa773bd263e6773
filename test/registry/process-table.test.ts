// Unit tests of the pure pieces: /proc/<pid>/stat parsing, descendant walks and tree rendering on
// synthetic tables (pids above PID_MAX_LIMIT, so no real process can match), and originator
// parsing (env layering: test/sessions/spawn-env.test.ts). Plus readStartTime/listDescendants against real processes.
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseProcStat, listDescendants, readStartTime, readProcStat, startTicksToEpochSeconds, type ProcStat,
} from '../../src/proc/process-table';
import { renderProcessTree } from '../../src/proc/tree-text';
import { originatorPid } from '../../src/registry/registry';
import { startChild, waitDescendants, killAll } from './fixtures';
import { killProcessTree, signalIdentity } from '../../src/proc/kill-escalation';
import { isAlive } from '../helpers/daemon';

afterEach(() => killAll());

/** Above PID_MAX_LIMIT (2^22): never a real pid. */
const BASE = 5_000_000;

function stat(pid: number, ppid: number, comm = `p${pid - BASE}`, startTicks = 100): ProcStat {
  return { pid, ppid, comm, state: 'S', pgrp: pid, session: pid, startTicks };
}

describe('parseProcStat', () => {
  it('reads state, ppid, session and start ticks even when comm holds ") " and spaces', () => {
    const line = '4321 (evil) (name x) S 12 4321 4321 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4321, comm: 'evil) (name x', state: 'S', ppid: 12, pgrp: 4321, session: 4321, startTicks: 987654 });
  });

  it('rejects malformed lines', () => {
    expect(parseProcStat('garbage')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2')).toBeNull();
  });
});

describe('trees of a synthetic table', () => {
  const table = new Map<number, ProcStat>([
    [BASE + 1, stat(BASE + 1, 1)],
    [BASE + 2, stat(BASE + 2, BASE + 1)],
    [BASE + 3, stat(BASE + 3, BASE + 2)],
    [BASE + 4, stat(BASE + 4, BASE + 2)],
    [BASE + 5, stat(BASE + 5, BASE + 1)],
    [BASE + 6, stat(BASE + 6, BASE + 5)],
  ]);

  it('walks descendants breadth-first', () => {
    expect(listDescendants(BASE + 1, table)).toEqual([BASE + 2, BASE + 5, BASE + 3, BASE + 4, BASE + 6]);
    expect(listDescendants(BASE + 6, table)).toEqual([]);
  });

  it('renders the exact tree format', () => {
    expect(renderProcessTree(BASE + 1, table)).toBe([
      `p1 (pid=${BASE + 1})`,
      `├── p2 (pid=${BASE + 2})`,
      `│   ├── p3 (pid=${BASE + 3})`,
      `│   └── p4 (pid=${BASE + 4})`,
      `└── p5 (pid=${BASE + 5})`,
      `    └── p6 (pid=${BASE + 6})`,
    ].join('\n'));
    expect(renderProcessTree(BASE + 99, table)).toBeNull();
  });
});

describe('the live process table', () => {
  it('gives start ticks that identify a process and its descendants', async () => {
    const root = startChild('sleep 1000 & sleep 1000 & wait');
    const kids = await waitDescendants(root, 2);
    expect(kids).toHaveLength(2);
    const ticks = readStartTime(root)!;
    expect(readProcStat(kids[0])!.ppid).toBe(root);
    expect(readStartTime(kids[0])!).toBeGreaterThanOrEqual(ticks);
    const startedAt = startTicksToEpochSeconds(ticks);
    expect(Math.abs(startedAt - Date.now() / 1000)).toBeLessThan(60);
    expect(readStartTime(BASE)).toBeNull();
  });
});

describe('start-time checked signals', () => {
  it('never signals a pid whose start time differs from the identity given', async () => {
    const root = startChild('sleep 1000 & wait');
    const [kid] = await waitDescendants(root, 1);
    const stale = { pid: root, startTicks: readStartTime(root)! - 1 };
    expect(signalIdentity(stale, 'SIGKILL')).toBe(false);
    expect(await killProcessTree(stale, { timeoutMs: 1000 })).toEqual({ killed: 0, survivors: [] });
    expect(isAlive(root)).toBe(true);
    expect(isAlive(kid)).toBe(true);
    // The protected set is honoured even inside the tree.
    const result = await killProcessTree({ pid: root, startTicks: readStartTime(root)! }, { timeoutMs: 3000, protect: new Set([kid]) });
    expect(result.killed).toBe(1);
    expect(isAlive(root)).toBe(false);
    expect(isAlive(kid)).toBe(true);
  });
});

describe('originatorPid', () => {
  it('reads the pid of TOOL:PID and nothing else', () => {
    expect(originatorPid('clud:1234')).toBe(1234);
    expect(originatorPid('a:b:77')).toBe(77);
    expect(originatorPid('clud')).toBeNull();
    expect(originatorPid('clud:')).toBeNull();
    expect(originatorPid('clud:0')).toBeNull();
    expect(originatorPid('clud:12x')).toBeNull();
  });
});
