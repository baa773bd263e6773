// Faults, CI size: the daemon SIGKILLed during registry writes and service restarts (3 cycles: the
// database stays consistent, services are re-adopted, nothing runs twice); a session child killed
// from outside is reported as exit -9 / NATURAL_EXIT to the list and to its attached client; a
// full filesystem under a tee stops it cleanly, under a service log drops (counted) what cannot be
// written without stopping the service, while other sessions go on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { pb } from '../../src/wire/proto';
import { describeCrash, runCrashCycles } from './crash-run';
import { fillDisk, mountSmallTmpfs, unmountTmpfs } from './disk-fill';

let daemon: TestDaemon | null = null;
let mountPoint: string | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  if (mountPoint) unmountTmpfs(mountPoint);
  mountPoint = null;
});

const outcome = (o: number) => pb.TerminationOutcome[o];

describe('faults', () => {
  it('SIGKILL of the daemon during registry writes and service restarts: consistent database, services re-adopted, no duplicates', async () => {
    const figures = await runCrashCycles({ cycles: 3, writers: 4, writesBeforeKill: 100 });
    console.log(describeCrash(figures));
    expect(figures.cycles).toBe(3);
    expect(figures.integrityChecks).toEqual(['ok', 'ok', 'ok']);
    expect(figures.steadyPidKept).toBe(true);
    expect(figures.maxSteadyRuns).toBe(1);
    expect(figures.maxLooperRuns).toBeLessThanOrEqual(1);
    expect(figures.duplicateRows).toBe(0);
    expect(figures.registryWritesAcked).toBeGreaterThanOrEqual(300);
    expect(figures.serviceRestarts).toBeGreaterThanOrEqual(6);
  });

  it('a session child killed by an outside SIGKILL is reported as exit -9, NATURAL_EXIT, and its attached client gets the exit frame', async () => {
    daemon = await startDaemon();
    const { sessionId, pid } = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'echo ready; exec sleep 600'] });
    const att = await daemon.client.attachPipe(sessionId);
    let seen = att.backlog.toString();
    const frames: string[] = [];
    let exitCode: number | null = null;
    const reader = (async () => {
      for (;;) {
        const f = await att.next();
        if (!f) return;
        frames.push(f.kind);
        if (f.kind === 'bytes') seen += f.data.toString();
        if (f.kind === 'exit') exitCode = f.code;
      }
    })();
    await waitFor(() => seen.includes('ready'), 'the child to print ready');
    process.kill(pid, 'SIGKILL');
    await reader;
    expect(exitCode).toBe(-9);
    expect(frames.at(-1)).toBe('exit');
    const [info] = (await daemon.client.listPipes()).filter((s) => s.sessionId === sessionId);
    expect(info.exited).toBe(true);
    // The library reports it as a shell does: 128 + 9, and the signal's name.
    expect(info).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(outcome(info.terminationOutcome)).toBe('TERMINATION_OUTCOME_NATURAL_EXIT');
  });

  it('a full filesystem: a tee stops cleanly, a service log drops and counts while its run goes on; other sessions continue and the daemon answers', async () => {
    mountPoint = mountSmallTmpfs();
    expect(mountPoint, 'mount -t tmpfs failed: this test needs root (CI runs as root)').not.toBeNull();
    const home = path.join(mountPoint!, 'h');
    fs.mkdirSync(home, { mode: 0o700 });
    daemon = await startDaemon({ home, args: ['--reaper-interval-ms', '0'] });
    // A session that writes nothing to disk: it must keep going throughout.
    const other = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done'] });
    // A service that keeps printing numbered lines: the daemon writes them into its log and, once
    // the disk is full, drops what cannot be written (counted, logged), never blocking the run.
    await daemon.client.startService({
      name: 'writer', cmd: ['python3', '-c', [
        'import sys, time',
        'i = 0',
        'while True:',
        '    i += 1; sys.stdout.write("%d %s\\n" % (i, "x" * 4000)); sys.stdout.flush(); time.sleep(0.001)',
      ].join('\n')], minUptimeMs: 10, logMaxBytes: 64 * 1024 * 1024,
    });
    // Keeps producing, so the tee has bytes to write after the disk filled (a bounded burst could
    // be written out before the fill and leave the tee idle, never meeting ENOSPC).
    const tee = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'while :; do head -c 65536 /dev/zero; sleep 0.01; done'] });
    const teeFile = path.join(home, 'tee.bin');
    const handle = await daemon.client.registerSessionTee({ sessionId: tee.sessionId, sessionKind: 'pipe', filePath: teeFile });

    // Fill whatever is left; both writers hit ENOSPC (the service may have filled it first).
    fillDisk(path.join(home, 'filler'));
    await waitFor(async () => (await daemon!.client.getSessionTeeStatus(tee.sessionId, 'pipe', handle)).disconnected, 'the tee to stop on ENOSPC', 15_000);
    const dropped = /service writer out log .*writer-out\.log: ENOSPC: no space left on device.*; \d+ bytes of its output dropped so far \(the service keeps running\)/;
    await waitFor(() => dropped.test(daemon!.stderr()), 'the daemon to report the service log full', 15_000);

    // The service run itself is still up (its log failing does not stop it); the daemon answers.
    const writer = await daemon.client.describeService('writer');
    expect(writer.status).toBe('online');
    expect(writer.restartCount).toBe(0);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
    expect((await daemon.client.status()).activeConnections).toBeGreaterThanOrEqual(1);
    // The other session keeps producing: its output still grows after the disk filled.
    const ticksNow = async () => {
      const b = await daemon!.client.backlog(other.sessionId);
      const m = /tick (\d+)\n$/.exec(Buffer.from(b.backlog).toString());
      return m ? Number(m[1]) : 0;
    };
    const t0 = await ticksNow();
    await waitFor(async () => (await ticksNow()) >= t0 + 10, 'the other session to keep producing output');
    const [teeInfo] = (await daemon.client.listPipes()).filter((s) => s.sessionId === tee.sessionId);
    expect(teeInfo.exited).toBe(false);
    // Space again: the log is written again, and the count of what was dropped is said.
    fs.rmSync(path.join(home, 'filler'));
    await waitFor(() => /service writer out log .*: writing again; \d+ bytes of its output were dropped before/.test(daemon!.stderr()), 'the service log written again');
    await daemon.client.stopService('writer');
    await daemon.client.terminate(other.sessionId);
    await daemon.client.terminate(tee.sessionId);
  });
});
