// Unit tests of the descendant watcher on a fake process table: starts and exits by identity,
// escaped (reparented) descendants followed, pid reuse not mistaken, the end reported once.
import { describe, expect, it } from 'vitest';
import { DescendantWatcher, type DescendantChange } from '../../src/observers/descendant-watch';
import type { ProcStat } from '../../src/proc/process-table';

function proc(pid: number, ppid: number, startTicks: number, comm = `p${pid}`, state = 'S'): ProcStat {
  return { pid, ppid, startTicks, comm, state, pgrp: pid, session: pid };
}

function setup(initial: ProcStat[]) {
  let table = new Map(initial.map((p) => [p.pid, p]));
  const changes: DescendantChange[] = [];
  let gone = 0;
  const w = new DescendantWatcher(1_000_000, () => table);
  return {
    w, changes, gone: () => gone,
    set(procs: ProcStat[]) { table = new Map(procs.map((p) => [p.pid, p])); },
    watch(leader: number) { w.watch('s', { pid: leader, createdAtMs: 0 }, (c) => changes.push(...c), () => gone++); },
  };
}

describe('DescendantWatcher', () => {
  it('takes descendants running at watch time as they are, then reports new ones and exits', () => {
    const t = setup([proc(1, 0, 1), proc(100, 1, 10), proc(101, 100, 11)]);
    t.watch(100);
    expect(t.changes).toEqual([]);
    t.set([proc(1, 0, 1), proc(100, 1, 10), proc(101, 100, 11), proc(102, 101, 12, 'make')]);
    t.w.poll();
    expect(t.changes).toEqual([{ kind: 'descendant-started', pid: 102, comm: 'make' }]);
    t.set([proc(1, 0, 1), proc(100, 1, 10), proc(102, 101, 12, 'make', 'Z')]);
    t.w.poll();
    expect(t.changes.slice(1)).toEqual([
      { kind: 'descendant-exited', pid: 101, comm: 'p101' },
      { kind: 'descendant-exited', pid: 102, comm: 'make' },
    ]);
    t.w.stop();
  });

  it('follows a descendant reparented to init, and the children it makes there', () => {
    const t = setup([proc(1, 0, 1), proc(100, 1, 10), proc(101, 100, 11, 'daemonish')]);
    t.watch(100);
    // The leader exits; its child now belongs to init and forks.
    t.set([proc(1, 0, 1), proc(101, 1, 11, 'daemonish'), proc(103, 101, 13, 'worker')]);
    t.w.poll();
    expect(t.changes).toEqual([{ kind: 'descendant-started', pid: 103, comm: 'worker' }]);
    expect(t.gone()).toBe(0);
    t.set([proc(1, 0, 1)]);
    t.w.poll();
    expect(t.changes.slice(1).map((c) => [c.kind, c.pid])).toEqual([['descendant-exited', 101], ['descendant-exited', 103]]);
    expect(t.gone()).toBe(1);
    expect(t.w.size).toBe(0);
  });

  it('takes a reused pid (another start time) for an exit, and a child older than its parent for nobody', () => {
    const t = setup([proc(1, 0, 1), proc(100, 1, 10), proc(101, 100, 11)]);
    t.watch(100);
    t.set([proc(1, 0, 1), proc(100, 1, 10), proc(101, 100, 99), proc(5, 100, 2)]);
    t.w.poll();
    expect(t.changes).toEqual([
      { kind: 'descendant-exited', pid: 101, comm: 'p101' },
      { kind: 'descendant-started', pid: 101, comm: 'p101' },
    ]);
    t.w.stop();
  });

  it('finds a child orphaned between two polls by its session id (the leader ran setsid)', () => {
    const t = setup([proc(1, 0, 1), proc(100, 1, 10)]);
    t.watch(100);
    // The leader forked and exited before the next poll: its child now hangs off init.
    t.set([proc(1, 0, 1), { ...proc(104, 1, 14, 'sleep'), session: 100 }, { ...proc(100, 1, 50, 'reused'), session: 100 }]);
    t.w.poll();
    // The pid 100 now is another process (a later start, leading its own session): not the leader, not a descendant.
    expect(t.changes).toEqual([{ kind: 'descendant-started', pid: 104, comm: 'sleep' }]);
    expect(t.gone()).toBe(0);
    t.w.stop();
  });

  it('reports the end at once for a session whose process is gone and had no descendants', () => {
    const t = setup([proc(1, 0, 1)]);
    t.watch(100);
    expect(t.gone()).toBe(1);
    t.w.unwatch('s');
    t.watch(100);
    expect(t.gone()).toBe(2);
  });
});
