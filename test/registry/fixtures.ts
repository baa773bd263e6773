// Shared fixtures for registry tests: real child processes that are always killed afterwards,
// and direct database access for rows the API would never write (stale identities).
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { readStartTime, listDescendants } from '../../src/proc/process-table';
import { waitFor, isAlive } from '../helpers/daemon';

const started = new Set<number>();

/** Starts a child (through /bin/sh -c when given a string) and remembers it for killAll(). */
export function startChild(script: string): number {
  const child = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
  child.on('error', () => {});
  started.add(child.pid!);
  return child.pid!;
}

/** Remembers a pid the test did not start itself (e.g. a SpawnDaemon child) for killAll(). */
export function remember(pid: number): void {
  started.add(pid);
}

/** Waits until pid has n descendants and returns them (each also remembered). */
export async function waitDescendants(pid: number, n: number): Promise<number[]> {
  const kids = await waitFor(() => {
    const d = listDescendants(pid);
    return d.length >= n ? d : null;
  }, `${n} descendants of ${pid}`);
  kids.forEach(remember);
  return kids;
}

/** SIGKILLs every remembered process (and its descendants) that is still running. */
export function killAll(): void {
  for (const pid of started) {
    for (const p of [pid, ...listDescendants(pid)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
  started.clear();
}

/** Kills pid and waits until it is gone (zombies count as gone). */
export async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), `pid ${pid} to die`);
}

/** A pid with no process behind it right now. */
export function unusedPid(): number {
  for (let pid = 4_000_000; pid > 1000; pid--) if (!fs.existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid found');
}

/** Start ticks of a live pid (throws if gone). */
export function startTicksOf(pid: number): number {
  const t = readStartTime(pid);
  if (t === null) throw new Error(`pid ${pid} is gone`);
  return t;
}
