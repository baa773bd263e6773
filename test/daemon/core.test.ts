// Black-box tests of the daemon core: PING/STATUS/SHUTDOWN and every bad input of the envelope.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, makeTempHome, RUNPMD, type TestDaemon } from '../helpers/daemon';
import { RawConnection } from '../helpers/raw';
import { RequestType, StatusCode } from '../../src/wire/proto';
import { DaemonError } from '../../src/wire/errors';
import { connect } from '../../src/client/connect';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function runDaemonOnce(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPMD, '--reserve-bytes', '0', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('core requests', () => {
  it('answers PING with the server clock and STATUS with its paths and counts', async () => {
    daemon = await startDaemon();
    const before = Date.now();
    const pong = await daemon.client.ping();
    expect(pong.serverTimeMs).toBeGreaterThanOrEqual(before - 1000);
    expect(pong.serverTimeMs).toBeLessThanOrEqual(Date.now() + 1000);
    const status = await daemon.client.status();
    expect(status.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(status.socketPath).toBe(daemon.paths.socketPath);
    expect(status.dbPath).toBe(path.join(daemon.home, 'test', 'registry.sqlite3'));
    expect(status.scope).toBe('test');
    expect(status.scopeHash).toMatch(/^[0-9a-f]{16}$/);
    expect(status.activeConnections).toBe(1);
    expect(status.scopeCwd).toBe(process.cwd());
    expect(status.emergencyReserve).toBe('disabled');
  });

  it('answers many pipelined requests in order on one connection', async () => {
    daemon = await startDaemon();
    const raw = await RawConnection.open(daemon.paths.socketPath);
    for (let id = 1; id <= 200; id++) raw.sendRequest({ id, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    const responses = await raw.waitResponses(200);
    expect(responses.map((r) => Number(r.requestId))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(responses.every((r) => r.code === StatusCode.STATUS_CODE_OK)).toBe(true);
    raw.close();
  });

  it('acknowledges SHUTDOWN before stopping and removes its socket and lock', async () => {
    daemon = await startDaemon();
    await daemon.client.shutdown({ graceful: true, timeoutSeconds: 1 });
    expect(await daemon.exited).toBe(0);
    expect(fs.existsSync(daemon.paths.socketPath)).toBe(false);
    expect(fs.existsSync(daemon.paths.lockPath)).toBe(false);
  });

  it('arms a real (non-sparse) emergency reserve when asked', async () => {
    daemon = await startDaemon({ args: ['--reserve-bytes', String(2 * 1024 * 1024)] });
    await waitFor(async () => (await daemon!.client.status()).emergencyReserve === 'armed', 'reserve armed');
    const st = fs.statSync(path.join(daemon.paths.stateDir, 'emergency.reserve'));
    expect(st.size).toBe(2 * 1024 * 1024);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  });
});

describe('bad input', () => {
  it('answers an oversize length with INVALID_ARGUMENT (request 0) and closes', async () => {
    daemon = await startDaemon({ args: ['--max-frame-bytes', '1024'] });
    const raw = await RawConnection.open(daemon.paths.socketPath);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xffffffff, 0);
    raw.sendBytes(header);
    const [resp] = await raw.waitResponses(1);
    expect(resp.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(Number(resp.requestId)).toBe(0);
    expect(resp.message).toContain('4294967295');
    expect(resp.message).toContain('1024');
    await raw.waitClosed();
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });

  it('answers bytes that are not a DaemonRequest with INVALID_ARGUMENT and keeps the connection', async () => {
    daemon = await startDaemon();
    const raw = await RawConnection.open(daemon.paths.socketPath);
    raw.sendBody(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    raw.sendRequest({ id: 7, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    const [bad, good] = await raw.waitResponses(2);
    expect(bad.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(bad.message).toMatch(/malformed DaemonRequest/);
    expect(good.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(Number(good.requestId)).toBe(7);
    expect(raw.closed).toBe(false);
    raw.close();
  });

  it('answers type 0 and unknown types with UNKNOWN_REQUEST naming them', async () => {
    daemon = await startDaemon();
    const r0 = await daemon.client.send(RequestType.REQUEST_TYPE_UNSPECIFIED, null, null);
    expect(r0.code).toBe(StatusCode.STATUS_CODE_UNKNOWN_REQUEST);
    expect(r0.message).toBe('unspecified request type');
    const r999 = await daemon.client.send(999 as RequestType, null, null);
    expect(r999.code).toBe(StatusCode.STATUS_CODE_UNKNOWN_REQUEST);
    expect(r999.message).toContain('999');
  });

  it('answers a known type without its payload as it answers the all-default payload (as the reference does)', async () => {
    daemon = await startDaemon();
    const r = await daemon.client.send(RequestType.REQUEST_TYPE_PING, null, null);
    expect(r.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(Number(r.ping?.serverTimeMs)).toBeGreaterThan(0);
    const status = await daemon.client.send(RequestType.REQUEST_TYPE_STATUS, null, null);
    expect(status.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(status.status?.scope).toBe('test');
  });

  it('answers a newer protocol_version with VERSION_MISMATCH, and treats 0 as 1', async () => {
    daemon = await startDaemon();
    const raw = await RawConnection.open(daemon.paths.socketPath);
    raw.sendRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, protocolVersion: 2, ping: {} });
    raw.sendRequest({ id: 2, type: RequestType.REQUEST_TYPE_PING, protocolVersion: 0, ping: {} });
    const [newer, zero] = await raw.waitResponses(2);
    expect(newer.code).toBe(StatusCode.STATUS_CODE_VERSION_MISMATCH);
    expect(newer.message).toContain('2');
    expect(zero.code).toBe(StatusCode.STATUS_CODE_OK);
    raw.close();
  });

  it('turns a throwing handler into INTERNAL and keeps serving', async () => {
    daemon = await startDaemon({ args: ['--inject-fault', 'STATUS'] });
    const err = await daemon.client.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_INTERNAL);
    expect((err as DaemonError).message).toContain('injected fault');
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });

  it('refuses connections beyond max_connections with UNAVAILABLE', async () => {
    daemon = await startDaemon({ args: ['--max-connections', '2'] });
    // Idle connections do not count against the limit; the helper's client counts once it sent a frame.
    await daemon.client.ping();
    const second = await RawConnection.open(daemon.paths.socketPath);
    second.sendRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    await second.waitResponses(1);
    const third = await RawConnection.open(daemon.paths.socketPath);
    const [resp] = await third.waitResponses(1);
    expect(resp.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(resp.message).toContain('limit is 2');
    await third.waitClosed();
    second.close();
    await waitFor(async () => (await daemon!.client.status()).activeConnections === 1, 'connection count to drop');
  });

  it('answers a flooding client with RATE_LIMITED and keeps serving others', async () => {
    daemon = await startDaemon({ args: ['--rate-limit', '20'] });
    const raw = await RawConnection.open(daemon.paths.socketPath);
    for (let id = 1; id <= 100; id++) raw.sendRequest({ id, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    const responses = await raw.waitResponses(100);
    const limited = responses.filter((r) => r.code === StatusCode.STATUS_CODE_RATE_LIMITED);
    expect(limited.length).toBeGreaterThan(50);
    expect(limited[0].message).toContain('20 requests per second');
    expect(responses.slice(0, 20).every((r) => r.code === StatusCode.STATUS_CODE_OK)).toBe(true);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
    raw.close();
  });

  it('does not grow memory for a client that never reads its responses', async () => {
    daemon = await startDaemon();
    const rss = () => {
      const status = fs.readFileSync(`/proc/${daemon!.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
    };
    const before = rss();
    const socket = net.connect(daemon.paths.socketPath);
    socket.pause(); // never read
    await new Promise((r) => socket.once('connect', r));
    const { encodeFrame } = await import('../../src/wire/frame');
    const { encodeRequest } = await import('../../src/wire/envelope');
    const statusFrame = encodeFrame(encodeRequest({ id: 1, type: RequestType.REQUEST_TYPE_STATUS, status: {} }));
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => statusFrame));
    // Write 200,000 requests; each answer is larger than its request. The daemon must stop reading.
    for (let i = 0; i < 200; i++) socket.write(batch);
    await waitFor(() => socket.writableLength > batch.length * 20, 'the daemon to stop reading (client-side backlog)', 15_000);
    expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
    socket.destroy();
  });
});

describe('scope, socket and single instance', () => {
  it('makes the socket directory 0700 and the socket 0600', async () => {
    daemon = await startDaemon();
    expect(fs.statSync(daemon.paths.socketDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(daemon.paths.socketPath).mode & 0o777).toBe(0o600);
  });

  it('refuses a second daemon for a live scope and leaves the live socket alone', async () => {
    daemon = await startDaemon();
    const second = await runDaemonOnce(['--scope', 'test', '--home', daemon.home]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`already running (pid ${daemon.pid})`);
    expect(fs.existsSync(daemon.paths.socketPath)).toBe(true);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });

  it('replaces a stale socket and lock left by a crashed daemon', async () => {
    const first = await startDaemon();
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(fs.existsSync(first.paths.socketPath)).toBe(true);
    daemon = await startDaemon({ home: first.home });
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
    first.client.close();
  });

  it('refuses bad scope names, over-long socket paths and untrusted directories', async () => {
    const home = makeTempHome();
    try {
      const badScope = await runDaemonOnce(['--scope', 'a/b', '--home', home]);
      expect(badScope.code).not.toBe(0);
      expect(badScope.stderr).toContain('invalid scope "a/b"');
      const long = await runDaemonOnce(['--home', path.join(home, 'x'.repeat(120))]);
      expect(long.code).not.toBe(0);
      expect(long.stderr).toMatch(/limit for a unix socket path is 107 bytes/);
      fs.mkdirSync(path.join(home, 'open'), { mode: 0o777 });
      fs.chmodSync(path.join(home, 'open'), 0o777);
      const open = await runDaemonOnce(['--scope', 'open', '--home', home]);
      expect(open.code).not.toBe(0);
      expect(open.stderr).toContain('group or others have access');
      fs.mkdirSync(path.join(home, 'theirs'), { mode: 0o700 });
      fs.chownSync(path.join(home, 'theirs'), 65534, 65534);
      const theirs = await runDaemonOnce(['--scope', 'theirs', '--home', home]);
      expect(theirs.code).not.toBe(0);
      expect(theirs.stderr).toContain('owned by uid 65534');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('client autostart', () => {
  it('starts the daemon for that scope when none runs, then talks to it', async () => {
    const home = makeTempHome();
    const client = await connect({ scope: 'auto', home });
    try {
      const status = await client.status();
      expect(status.scope).toBe('auto');
      expect(status.socketPath).toBe(path.join(home, 'auto', 'daemon.sock'));
      await client.shutdown({ graceful: false });
      await waitFor(() => !fs.existsSync(status.socketPath), 'autostarted daemon to stop');
    } finally {
      client.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('fails with a message naming the daemon log when the daemon cannot start', async () => {
    const home = makeTempHome();
    try {
      const err = await connect({ scope: 'broken', home, daemonArgs: ['--ring-bytes', 'lots'] }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain(path.join(home, 'broken', 'daemon.log'));
      expect((err as Error).message).toContain('--ring-bytes must be an integer');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
