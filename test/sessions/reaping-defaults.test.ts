// Black-box: with no flags the daemon keeps the newest 100 exited sessions (issue 16.5: a list that
// grew to 193 rows in an hour is capped), says both defaults in its --help, and the sessions
// list stays running-first, newest-first while it reaps.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPMD, runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('reaping exited sessions by default', () => {
  it('keeps the newest 100 exited sessions and every running one', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const running = await c.spawnPipe({ argv: ['sleep', '60'] });
    const ids: string[] = [];
    for (let i = 0; i < 105; i += 15) {
      const batch = await Promise.all(Array.from({ length: 15 }, () => c.spawnPipe({ argv: ['true'] })));
      ids.push(...batch.map((s) => s.sessionId));
      // One batch after another, so creation order is the order of the batches.
      await waitFor(async () => {
        const rows = await c.listPipes();
        return batch.every((s) => rows.find((r) => r.sessionId === s.sessionId)?.exited ?? true);
      }, 'the batch to exit');
    }
    await waitFor(async () => (await c.listPipes()).length === 101, 'the count limit (100 exited + the running one)');
    const list = JSON.parse((await runCli(['--json', 'sessions'], daemon.env)).stdout) as Array<{ sessionId: string; exited: boolean; createdAt: number }>;
    expect(list.length).toBe(101);
    expect(list[0]).toMatchObject({ sessionId: running.sessionId, exited: false });
    const kept = new Set(list.slice(1).map((s) => s.sessionId));
    // The 5 oldest batch members are gone (which of a parallel batch is oldest is the daemon's order).
    expect(ids.slice(15).every((id) => kept.has(id))).toBe(true);
    expect(ids.slice(0, 15).filter((id) => !kept.has(id)).length).toBe(5);
    const created = list.slice(1).map((s) => s.createdAt);
    expect(created).toEqual([...created].sort((a, b) => b - a));
  }, 120_000);

  it('runpmd --help states the defaults: 100 exited sessions for 1 h', () => {
    const help = spawnSync(process.execPath, [RUNPMD, '--help'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--keep-exited <n> exited sessions kept (the newest; older ones are forgotten) (default: 100)');
    expect(help).toContain('--keep-exited-ms <n> how long an exited session is kept (default: 3600000)');
  });
});
