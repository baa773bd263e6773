// Black-box: no process of a service survives stop, restart or delete — including sleep
// grandchildren, one that left the group with setsid, and a service that ignores SIGTERM.
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import type { DaemonClient } from '../../src/client';
import { aliveOf, pidsIn, shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Forks two sleeps (one escaping with setsid) and records every pid in file. */
function forkingScript(file: string, ignoreTerm: boolean): string {
  return `${ignoreTerm ? "trap '' TERM; " : ''}echo $$ >> ${file}; sleep 300 & echo $! >> ${file}; setsid sleep 301 & echo $! >> ${file}; `
    + 'while true; do sleep 0.05; done';
}

async function startForking(c: DaemonClient, home: string, name: string, ignoreTerm: boolean): Promise<string> {
  const file = path.join(home, `${name}.pids`);
  await c.startService(shService(name, forkingScript(file, ignoreTerm), { killTimeoutMs: 300 }));
  await waitFor(() => pidsIn(file).length >= 3, `${name} to fork`);
  return file;
}

describe('stopping the whole tree', () => {
  for (const ignoreTerm of [false, true]) {
    const kind = ignoreTerm ? 'a SIGTERM-ignoring service' : 'a service';
    it(`stop leaves no process of ${kind} alive`, async () => {
      daemon = await startDaemon();
      const file = await startForking(daemon.client, daemon.home, 'tree', ignoreTerm);
      expect(aliveOf(pidsIn(file))).toHaveLength(3);
      expect(await daemon.client.stopService('tree')).toBe(1);
      expect(aliveOf(pidsIn(file))).toEqual([]);
    });

    it(`restart leaves no process of ${kind}'s old run alive`, async () => {
      daemon = await startDaemon();
      const file = await startForking(daemon.client, daemon.home, 'tree', ignoreTerm);
      const old = pidsIn(file);
      expect(await daemon.client.restartService('tree')).toBe(1);
      expect(aliveOf(old)).toEqual([]);
      await waitFor(() => pidsIn(file).length >= 6, 'the new run to fork');
    });

    it(`delete leaves no process of ${kind} alive`, async () => {
      daemon = await startDaemon();
      const file = await startForking(daemon.client, daemon.home, 'tree', ignoreTerm);
      expect(await daemon.client.deleteService('tree')).toBe(1);
      expect(aliveOf(pidsIn(file))).toEqual([]);
    });
  }

  it('kills what a crashed run left behind before restarting it', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.home, 'crash.pids');
    await daemon.client.startService(shService('leaky', `sleep 300 & echo $! >> ${file}; sleep 0.2; exit 1`, { restartDelayMs: 2000, killTimeoutMs: 200 }));
    await waitFor(() => pidsIn(file).length >= 1, 'first run to fork');
    const first = pidsIn(file)[0];
    await waitFor(() => aliveOf([first]).length === 0, 'the orphaned sleep of the crashed run to be killed');
  });
});
