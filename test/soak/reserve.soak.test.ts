// Soak: repeated disk-full faults on a real 8 MiB tmpfs (RUNPM_SOAK_RESERVE_CYCLES, default 10):
// each cycle fills the disk, drives registry writes until the reserve is released, checks a write
// then succeeds, frees the space and waits for the reserve to re-arm. The daemon serves throughout.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { DaemonError } from '../../src/wire/errors';
import { fillDisk, mountSmallTmpfs, unmountTmpfs } from '../reliability/disk-fill';
import { soakSize, writeSoakPart } from './soak-figures';

const RESERVE_BYTES = 2 * 1024 * 1024;

let daemon: TestDaemon | null = null;
let child: ChildProcess | null = null;
let mountPoint: string | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  child?.kill('SIGKILL');
  child = null;
  if (mountPoint) unmountTmpfs(mountPoint);
  mountPoint = null;
});

describe('soak: emergency reserve', () => {
  it('survives repeated disk-full faults, releasing and re-arming each time', async () => {
    mountPoint = mountSmallTmpfs();
    expect(mountPoint, 'mount -t tmpfs failed: the reserve soak needs root').not.toBeNull();
    const home = path.join(mountPoint!, 'h');
    fs.mkdirSync(home, { mode: 0o700 });
    daemon = await startDaemon({ home, args: ['--reserve-bytes', String(RESERVE_BYTES), '--reserve-recheck-ms', '100'] });
    const state = async () => (await daemon!.client.status()).emergencyReserve;
    await waitFor(async () => (await state()) === 'armed', 'the reserve to be armed');
    child = spawn('sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => child!.once('spawn', r));
    const pid = child.pid!;
    const reg = { pid, createdAt: 0, kind: 'test', command: 'sleep 600', cwd: '/', originator: 'soak:1', containment: '' };
    const cycles = soakSize('RUNPM_SOAK_RESERVE_CYCLES', 10);
    let failedWrites = 0;
    for (let i = 0; i < cycles; i++) {
      const filler = path.join(home, 'filler');
      fillDisk(filler);
      await waitFor(async () => {
        try {
          await daemon!.client.register(reg);
          await daemon!.client.unregister(pid);
        } catch (err) {
          if (!(err instanceof DaemonError)) throw err;
          failedWrites++;
        }
        return (await state()) === 'released';
      }, `cycle ${i}: the reserve to be released`, 30_000);
      await daemon.client.register(reg);
      await daemon.client.unregister(pid);
      fs.rmSync(filler);
      await waitFor(async () => (await state()) === 'armed', `cycle ${i}: the reserve to re-arm`, 30_000);
    }
    const log = fs.readFileSync(daemon.paths.daemonLogPath, 'utf8');
    const released = (log.match(/emergency reserve released/g) ?? []).length;
    const rearmed = (log.match(/emergency reserve re-armed/g) ?? []).length;
    console.log(`reserve: ${cycles} disk-full cycles, ${failedWrites} writes refused with UNAVAILABLE, ${released} releases, ${rearmed} re-arms logged`);
    writeSoakPart('reserve', { diskFullCycles: cycles, refusedWrites: failedWrites, releasesLogged: released, reArmsLogged: rearmed, daemonAlive: true });
    expect(released).toBe(cycles);
    expect(rearmed).toBe(cycles);
  });
});
