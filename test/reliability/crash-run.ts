// The daemon-crash runner shared by the CI fault test (3 cycles) and the soak (20 cycles): one
// scope home, a steady service and a crash-looping one (restarting every ~150 ms), writers
// registering and unregistering test-owned pids; each cycle SIGKILLs the daemon in the middle of
// that, starts a new one on the same home and checks what it finds. Lives for one test.
import * as fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type { DaemonClient } from '../../src/client/daemon-client';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { integrityOf } from './crash-helpers';

export interface CrashOptions {
  cycles: number;
  /** Concurrent register/unregister loops. */
  writers: number;
  /** Registry writes acknowledged in a cycle before the kill (at least). */
  writesBeforeKill: number;
}

export interface CrashFigures {
  cycles: number;
  registryWritesAcked: number;
  /** Crash-looping service restarts seen over all daemons. */
  serviceRestarts: number;
  /** PRAGMA integrity_check after each restart ('ok' each time). */
  integrityChecks: string[];
  /** The steady service kept its pid through every crash (re-adopted, never restarted). */
  steadyPidKept: boolean;
  /** Most runs of one service seen at once (counting only top-level matches). */
  maxSteadyRuns: number;
  maxLooperRuns: number;
  /** Registry rows listed twice for one pid after a restart (must be 0). */
  duplicateRows: number;
}

/**
 * Service runs whose command line carries the marker. A shell's child between fork and exec
 * briefly shows the same command line: count only processes whose parent is not itself a match.
 */
export function runsWithMarker(marker: string): number[] {
  const all: Array<{ pid: number; ppid: number }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      all.push({ pid: Number(entry), ppid: Number(fields[1]) });
    } catch {
      // Gone meanwhile.
    }
  }
  const pids = new Set(all.map((p) => p.pid));
  return all.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}

export { integrityOf } from './crash-helpers';

async function restartsOf(client: DaemonClient, name: string): Promise<number> {
  return (await client.listServices()).find((s) => s.name === name)?.restartCount ?? -1;
}

/** Keeps registering and unregistering pids until stopped or the daemon goes away. */
function startWriters(client: DaemonClient, pids: number[], count: number, acked: () => void): { stop(): Promise<void> } {
  let stopped = false;
  const loops = Array.from({ length: count }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const pid = pids[(w + i * count) % pids.length];
      try {
        await client.register({ pid, createdAt: 0, kind: 'test', command: `sleep ${w}`, cwd: '/', originator: `crash:${w}`, containment: '' });
        acked();
        await client.unregister(pid).catch((err: { code?: number }) => {
          // Another writer may have unregistered the same pid first.
          if (!/not tracked/.test(String((err as Error).message))) throw err;
        });
        acked();
      } catch {
        if (stopped) return;
        return; // The daemon died under us: that is the point.
      }
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Runs the crash cycles; returns figures (the caller asserts) and always cleans up. */
export async function runCrashCycles(opts: CrashOptions): Promise<CrashFigures> {
  const tag = `${process.pid}-${Date.now() % 100000}`;
  const steadyMarker = `marker-steady-${tag}`;
  const looperMarker = `marker-looper-${tag}`;
  const sleepers: ChildProcess[] = [];
  const figures: CrashFigures = {
    cycles: 0, registryWritesAcked: 0, serviceRestarts: 0, integrityChecks: [], steadyPidKept: true,
    maxSteadyRuns: 0, maxLooperRuns: 0, duplicateRows: 0,
  };
  let daemon: TestDaemon | null = null;
  let home: string | undefined;
  const sample = () => {
    figures.maxSteadyRuns = Math.max(figures.maxSteadyRuns, runsWithMarker(steadyMarker).length);
    figures.maxLooperRuns = Math.max(figures.maxLooperRuns, runsWithMarker(looperMarker).length);
  };
  try {
    for (let i = 0; i < 8; i++) {
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      sleepers.push(child);
      await new Promise((r) => child.once('spawn', r));
    }
    const pids = sleepers.map((c) => c.pid!);
    daemon = await startDaemon();
    home = daemon.home;
    await daemon.client.startService({ name: 'steady', cmd: ['sh', '-c', `: ${steadyMarker}; while :; do sleep 0.2; done`], minUptimeMs: 50, killTimeoutMs: 1000 });
    await daemon.client.startService({
      name: 'looper', cmd: ['sh', '-c', `: ${looperMarker}; sleep 0.15; exit 3`], restartDelayMs: 10, minUptimeMs: 50, killTimeoutMs: 500,
    });
    const steadyPid = (await daemon.client.describeService('steady')).pid;
    for (let cycle = 0; cycle < opts.cycles; cycle++) {
      const d: TestDaemon = daemon;
      const before = await restartsOf(d.client, 'looper');
      const writerClient = await d.connect({ callTimeoutMs: 10_000 });
      let acked = 0;
      const writers = startWriters(writerClient, pids, opts.writers, () => acked++);
      // Kill in the middle of registry writes and service restarts: both must be under way.
      await waitFor(async () => {
        sample();
        return acked >= opts.writesBeforeKill && (await restartsOf(d.client, 'looper')) >= before + 2;
      }, `cycle ${cycle}: ${opts.writesBeforeKill} registry writes and 2 looper restarts`, 15_000);
      figures.serviceRestarts += (await restartsOf(d.client, 'looper')) - before;
      d.proc.kill('SIGKILL');
      await d.exited;
      await writers.stop();
      figures.registryWritesAcked += acked;
      writerClient.close();
      d.client.close();
      sample();

      daemon = await startDaemon({ home });
      figures.integrityChecks.push(integrityOf(daemon.paths.dbPath));
      const steady = await daemon.client.describeService('steady');
      const steadyRuns = runsWithMarker(steadyMarker);
      if (steady.pid !== steadyPid || steadyRuns.length !== 1 || steadyRuns[0] !== steadyPid) figures.steadyPidKept = false;
      const rows = await daemon.client.listActive();
      figures.duplicateRows += rows.length - new Set(rows.map((r) => r.pid)).size;
      // Two more looper restarts under the new daemon: a run the old one spawned but never recorded
      // (killed between fork and the write) has lived out its 150 ms by then, so the samples count
      // only runs this daemon knows.
      const restartedFrom = await restartsOf(daemon.client, 'looper');
      const fresh: TestDaemon = daemon;
      await waitFor(async () => (await restartsOf(fresh.client, 'looper')) >= restartedFrom + 2, `cycle ${cycle}: the looper restarting under the new daemon`, 15_000);
      for (let s = 0; s < 20; s++) {
        sample();
        await fresh.client.ping();
      }
      figures.cycles++;
    }
    return figures;
  } finally {
    await daemon?.stop();
    for (const c of sleepers) c.kill('SIGKILL');
    if (home && !process.env.KEEP_TEST_DIRS) fs.rmSync(home, { recursive: true, force: true });
  }
}

/** One line of figures for the test log. */
export function describeCrash(f: CrashFigures): string {
  return `crash: ${f.cycles} daemon SIGKILLs during ${f.registryWritesAcked} acked registry writes and ${f.serviceRestarts} service restarts; `
    + `integrity ${[...new Set(f.integrityChecks)].join(',')}; steady pid kept ${f.steadyPidKept}; max runs at once steady ${f.maxSteadyRuns}, looper ${f.maxLooperRuns}; duplicate rows ${f.duplicateRows}`;
}
