// SIGKILL of the daemon between the fork of a SPAWN_DAEMON child and its registry row (issue 21.1:
// every process the daemon starts is findable after a crash). The child outlives the daemon by
// design, so the next daemon must know it: it finds it by its RUNPM_DETACHED_SCOPE tag and
// registers it once (its own children are part of its tree, not rows of their own); a child
// registered in time is not registered twice.
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { integrityOf, killMarker, logLines, processesWithMarker, rowCount, waitForNoUnknownProcess } from './crash-helpers';

const daemons: TestDaemon[] = [];
const markers: string[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0).reverse()) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
    else d.client.close();
  }
  for (const m of markers.splice(0)) killMarker(m);
});

function marker(name: string): string {
  const m = `rp-detached-${name}-${process.pid}-${Date.now() % 1e6}`;
  markers.push(m);
  return m;
}

async function start(home?: string, args: string[] = []): Promise<TestDaemon> {
  const d = await startDaemon({ home, args: ['--reaper-interval-ms', '0', ...args] });
  daemons.push(d);
  return d;
}

/** The top of the marker's tree (the shell SPAWN_DAEMON forked; its sleep child shows the marker too only briefly). */
function topOf(m: string): number | null {
  const all = processesWithMarker(m);
  const tops = all.filter((p) => !all.some((q) => q.pid === p.ppid));
  return tops.length === 1 ? tops[0].pid : null;
}

describe('daemon SIGKILL and SPAWN_DAEMON children', () => {
  it('killed between the fork and the registry write: the next daemon registers the child once, and nothing is unknown', async () => {
    const lost = marker('lost');
    const command = `: ${lost}; export RP_TEST_MARK=${lost}; sleep 600`;
    const first = await start(undefined, ['--crash-at', 'detached-spawned']);
    await expect(first.client.spawnDaemon({ command, originator: 'crash-test:1' })).rejects.toThrow();
    await first.exited;
    const pid = await waitFor(() => topOf(lost), 'the unrecorded detached child');

    const second = await start(first.home);
    const rows = (await second.client.listActive()).filter((r) => r.pid === pid);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ command, kind: 'daemon', containment: 'detached', originator: 'crash-test:1' });
    expect(logLines(second.paths.daemonLogPath, new RegExp(`detached process pid ${pid} .* died before registering it; registered now`))).toHaveLength(1);
    expect(rowCount(second.paths.dbPath, 'tracked_processes')).toBe(1);

    // One registered in time, then another crash: each is listed once, none twice.
    const kept = marker('kept');
    const spawned = await second.client.spawnDaemon({ command: `: ${kept}; export RP_TEST_MARK=${kept}; sleep 600` });
    second.proc.kill('SIGKILL');
    await second.exited;
    second.client.close();
    const third = await start(first.home);
    const listed = (await third.client.listActive()).map((r) => r.pid).sort((a, b) => a - b);
    expect(listed).toEqual([pid, spawned.pid].sort((a, b) => a - b));
    expect(logLines(third.paths.daemonLogPath, /registered now/)).toHaveLength(1); // the first daemon's one, not again
    await waitForNoUnknownProcess(third);
    expect(integrityOf(third.paths.dbPath)).toBe('ok');
  });
});
