// fd exhaustion is not death: a daemon whose fd limit is lowered (prlimit) to what it already holds
// cannot open anything, so every /proc read fails with EMFILE. Through several reaper rounds and
// polls of an adopted service run, nothing is reaped or forgotten: once fds are back, every
// registered process is still listed alive and the adopted service still runs once, same pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { pb } from '../../src/wire/proto';
import { startDaemon, waitFor, isAlive, type TestDaemon } from '../helpers/daemon';
import { killMarker, logLines, processesWithMarker } from './crash-helpers';

const daemons: TestDaemon[] = [];
const sleepers: ChildProcess[] = [];
let marker = '';
afterEach(async () => {
  for (const d of daemons.splice(0).reverse()) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
    else d.client.close();
  }
  for (const c of sleepers.splice(0)) c.kill('SIGKILL');
  if (marker) killMarker(marker);
});

/** The soft RLIMIT_NOFILE of pid (prlimit prints "SOFT HARD"). */
function softNofile(pid: number): string {
  return execFileSync('prlimit', ['--pid', String(pid), '--nofile', '--noheadings', '--output', 'SOFT'], { encoding: 'utf8' }).trim();
}

describe('fd exhaustion', () => {
  it('under EMFILE the reaper reaps nothing and an adopted service is kept; afterwards all is as before', async () => {
    marker = `rp-fd-steady-${process.pid}`;
    const first = await startDaemon();
    daemons.push(first);
    await first.client.startService({ name: 'steady', cmd: ['sh', '-c', `: ${marker}; while :; do sleep 0.2; done`], minUptimeMs: 50 });
    const { pid: servicePid } = await first.client.describeService('steady');
    first.proc.kill('SIGKILL');
    await first.exited;

    const d = await startDaemon({ home: first.home, args: ['--reaper-interval-ms', '100'] });
    daemons.push(d);
    await waitFor(() => logLines(d.paths.daemonLogPath, new RegExp(`service steady: re-adopted pid ${servicePid}`)).length > 0, 'the service re-adopted');
    for (let i = 0; i < 3; i++) {
      const c = spawn('sleep', ['600'], { stdio: 'ignore' });
      sleepers.push(c);
      await new Promise((r) => c.once('spawn', r));
      await d.client.register({ pid: c.pid!, createdAt: 0, kind: 'test', command: 'sleep 600', cwd: '/', originator: '', containment: '' });
    }

    // From here on the daemon cannot open a single fd: a new fd must be below the limit, and 0-2
    // are taken (what is open stays open).
    const soft = softNofile(d.pid);
    const pattern = /reaper: 3 row\(s\) could not be checked/;
    const before = logLines(d.paths.daemonLogPath, pattern).length;
    execFileSync('prlimit', ['--pid', String(d.pid), '--nofile=3:']);
    try {
      // Four reaper rounds: longer than the adopted-run poll (250 ms) too.
      await waitFor(() => logLines(d.paths.daemonLogPath, pattern).length >= before + 4, 'four reaper rounds that could not read /proc', 15_000);
    } finally {
      execFileSync('prlimit', ['--pid', String(d.pid), `--nofile=${soft}:`]);
    }

    const rows = await d.client.listActive();
    expect(rows.map((r) => r.pid).sort()).toEqual(sleepers.map((c) => c.pid!).sort());
    expect(rows.every((r) => r.state === pb.ProcessState.PROCESS_STATE_ALIVE)).toBe(true);
    const steady = await d.client.describeService('steady');
    expect(steady.pid).toBe(servicePid);
    expect(steady.status).toBe('online');
    expect(steady.restartCount).toBe(0);
    expect(isAlive(servicePid)).toBe(true);
    expect(processesWithMarker(marker).filter((p) => !processesWithMarker(marker).some((q) => q.pid === p.ppid))).toHaveLength(1);
    expect(logLines(d.paths.daemonLogPath, /reaper: unregistered/)).toHaveLength(0);
  });
});
