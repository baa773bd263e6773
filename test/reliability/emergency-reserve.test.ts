// The ENOSPC emergency reserve on a real full filesystem: a small tmpfs holds the scope's state
// dir; filling it makes the daemon's own writes fail, the daemon releases the reserve (STATUS
// `released`, logged) and retries the write once (registry rows, ServiceSave's snapshot), and once
// space is freed the reserve re-arms.
// Also the injected-fault path (no mount needed): an ENOSPC from a handler releases the reserve.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { fillDisk, mountSmallTmpfs, unmountTmpfs } from './disk-fill';

const RESERVE_BYTES = 2 * 1024 * 1024;

let daemon: TestDaemon | null = null;
let child: ChildProcess | null = null;
let mountPoint: string | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  child?.kill('SIGKILL');
  child = null;
  if (mountPoint) {
    unmountTmpfs(mountPoint);
    mountPoint = null;
  }
});

async function reserveState(d: TestDaemon): Promise<string> {
  return (await d.client.status()).emergencyReserve;
}

describe('emergency reserve', () => {
  it('is released on a real full tmpfs, lets the registry write, and re-arms when space is back', async () => {
    mountPoint = mountSmallTmpfs();
    // CI and this machine run as root, where mounting works; anywhere else this test cannot run.
    expect(mountPoint, 'mount -t tmpfs failed: this test needs root (CI runs as root)').not.toBeNull();
    const home = path.join(mountPoint!, 'h');
    fs.mkdirSync(home, { mode: 0o700 });
    daemon = await startDaemon({ home, args: ['--reserve-bytes', String(RESERVE_BYTES), '--reserve-recheck-ms', '100'] });
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to be armed');
    const reserveFile = path.join(daemon.paths.stateDir, 'emergency.reserve');
    expect(fs.statSync(reserveFile).blocks * 512).toBeGreaterThanOrEqual(RESERVE_BYTES);

    child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child!.once('spawn', r));
    const pid = child.pid!;
    const filler = path.join(home, 'filler');
    expect(fillDisk(filler)).toBeGreaterThan(0);

    // The next registry writes need fresh pages of the WAL: one of them hits SQLITE_FULL/ENOSPC,
    // releases the reserve and is retried once (so usually no write is refused at all).
    const failures: DaemonError[] = [];
    await waitFor(async () => {
      try {
        await daemon!.client.register({ pid, createdAt: 0, kind: 'test', command: 'sleep 30', cwd: '/', originator: 'enospc:1', containment: '' });
        await daemon!.client.unregister(pid);
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        failures.push(err);
      }
      return (await reserveState(daemon!)) === 'released';
    }, 'the daemon to release its reserve after a disk-full write', 15_000);
    for (const f of failures) {
      expect(f.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
      expect(f.message).toMatch(/disk full while handling REQUEST_TYPE_(UNREGISTER|REGISTER)/);
    }
    expect(fs.existsSync(reserveFile)).toBe(false);

    // With the reserve's bytes free again, the registry write goes through.
    await daemon.client.register({ pid, createdAt: 0, kind: 'test', command: 'sleep 30', cwd: '/', originator: 'enospc:1', containment: '' });
    expect((await daemon.client.listActive()).map((p) => p.pid)).toContain(pid);
    const log = fs.readFileSync(daemon.paths.daemonLogPath, 'utf8');
    expect(log).toMatch(/emergency reserve released \(2097152 bytes\) after/);

    // The disk is still full: the periodic check must not re-arm yet.
    expect(await reserveState(daemon)).toBe('released');
    fs.rmSync(filler);
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to re-arm once space is back');
    expect(fs.statSync(reserveFile).blocks * 512).toBeGreaterThanOrEqual(RESERVE_BYTES);
    expect(fs.readFileSync(daemon.paths.daemonLogPath, 'utf8')).toContain('emergency reserve re-armed');
  });

  it('lets ServiceSave write its snapshot on a full disk: the reserve is released and the write retried once', async () => {
    mountPoint = mountSmallTmpfs();
    expect(mountPoint, 'mount -t tmpfs failed: this test needs root (CI runs as root)').not.toBeNull();
    const home = path.join(mountPoint!, 'h');
    fs.mkdirSync(home, { mode: 0o700 });
    daemon = await startDaemon({ home, args: ['--reserve-bytes', String(RESERVE_BYTES), '--reserve-recheck-ms', '100'] });
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to be armed');
    const svc = await daemon.client.startService({ name: 'saved', cmd: ['sleep', '30'], minUptimeMs: 10 });
    expect(svc.pid).toBeGreaterThan(0);
    // Online first: the status change past min_uptime is itself a row write, and on a full disk it
    // would be the write that releases the reserve instead of ServiceSave.
    await waitFor(async () => (await daemon!.client.describeService('saved')).status === 'online', 'the service to be online');
    const filler = path.join(home, 'filler');
    fillDisk(filler);
    // The disk really is full: a one-byte write fails here, as the snapshot's would.
    expect(() => fs.writeFileSync(path.join(home, 'probe'), 'x')).toThrow(/ENOSPC/);

    const saved = await daemon.client.saveServices();
    expect(saved.serviceCount).toBe(1);
    const snapshot = JSON.parse(fs.readFileSync(saved.snapshotPath, 'utf8')) as { services: Array<{ name: string; online: boolean }> };
    expect(snapshot.services).toEqual([expect.objectContaining({ name: 'saved', online: true })]);
    expect(await reserveState(daemon)).toBe('released');
    const log = fs.readFileSync(daemon.paths.daemonLogPath, 'utf8');
    expect(log).toMatch(/emergency reserve released \(2097152 bytes\) after ServiceSave hit a full disk \(.*ENOSPC/);
    expect(log).toContain('retrying ServiceSave after releasing the emergency reserve');
    // No half-written temp file is left behind to hold the space.
    expect(fs.readdirSync(daemon.paths.stateDir).filter((f) => f.includes('.tmp-'))).toEqual([]);

    // Space is back: the periodic check re-arms the reserve.
    fs.rmSync(filler);
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to re-arm once space is back');
    expect(fs.statSync(path.join(daemon.paths.stateDir, 'emergency.reserve')).blocks * 512).toBeGreaterThanOrEqual(RESERVE_BYTES);
    await daemon.client.stopService('saved');
  });

  it('is released by an ENOSPC from a handler (injected fault), which answers UNAVAILABLE, and re-arms', async () => {
    daemon = await startDaemon({ args: ['--reserve-bytes', String(RESERVE_BYTES), '--reserve-recheck-ms', '100', '--inject-fault', 'PING:ENOSPC'] });
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to be armed');
    const err = await daemon.client.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect((err as DaemonError).message).toMatch(/disk full while handling REQUEST_TYPE_PING: ENOSPC.*emergency reserve is released, retry/);
    // The disk here is not full, so the periodic check re-arms it.
    await waitFor(async () => (await reserveState(daemon!)) === 'armed', 'the reserve to re-arm');
    expect(fs.readFileSync(daemon.paths.daemonLogPath, 'utf8')).toMatch(/emergency reserve released[\s\S]*emergency reserve re-armed/);
  });
});
