// Regression tests for bugs the wire fuzzer found. Each names the input that triggered it.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RawConnection } from '../helpers/raw';
import { encodeFrame } from '../../src/wire/frame';
import { encodeRequest } from '../../src/wire/envelope';
import { RequestType, StatusCode } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('fuzzer regressions', () => {
  // Found by fuzz: requests pipelined before an oversize length were dropped (the queue was
  // cleared) and the error frame overtook their answers; later answers were written after end().
  it('answers requests queued before an oversize length, in order, before the frame error', async () => {
    daemon = await startDaemon({ args: ['--max-frame-bytes', '1024'] });
    const raw = await RawConnection.open(daemon.paths.socketPath);
    const frames = Array.from({ length: 50 }, (_, i) => encodeFrame(encodeRequest({ id: i + 1, type: RequestType.REQUEST_TYPE_STATUS, status: {} })));
    const oversize = Buffer.alloc(4);
    oversize.writeUInt32BE(4096, 0);
    raw.sendBytes(Buffer.concat([...frames, oversize]));
    const responses = await raw.waitResponses(51);
    expect(responses.slice(0, 50).map((r) => Number(r.requestId))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(responses.slice(0, 50).every((r) => r.code === StatusCode.STATUS_CODE_OK)).toBe(true);
    expect(responses[50].code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(Number(responses[50].requestId)).toBe(0);
    expect(responses[50].message).toContain('4096');
    await raw.waitClosed();
    raw.close();
    // The daemon let go of the connection (no fd kept for a closed peer).
    await waitFor(async () => (await daemon!.client.status()).activeConnections === 1, 'the connection to be released');
  });

  // Found by fuzz: a string field with a lone surrogate encodes to invalid UTF-8; the daemon's
  // INVALID_ARGUMENT answer carried request_id 0, so the client could not correlate it by id.
  it('echoes the request id of a request that fails to decode after its id', async () => {
    daemon = await startDaemon();
    const raw = await RawConnection.open(daemon.paths.socketPath);
    const body = encodeRequest({ id: 77, type: RequestType.REQUEST_TYPE_PING, clientName: 'x\ud800y', ping: {} });
    raw.sendBody(body);
    raw.sendRequest({ id: 78, type: RequestType.REQUEST_TYPE_PING, ping: {} });
    const [bad, good] = await raw.waitResponses(2);
    expect(bad.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(bad.message).toMatch(/malformed DaemonRequest .*utf-8/i);
    expect(Number(bad.requestId)).toBe(77);
    expect(Number(good.requestId)).toBe(78);
    raw.close();
  });
});

describe('fuzzer regressions in handlers', () => {
  // Found by the soak fuzz: NUL bytes in argv, originator or cwd reached child_process.spawn,
  // whose TypeError became INTERNAL instead of INVALID_ARGUMENT naming the field.
  it('refuses NUL bytes in SPAWN_PIPE_SESSION argv, originator and cwd with INVALID_ARGUMENT', async () => {
    daemon = await startDaemon();
    const base = { argv: ['/bin/true'], cwd: '', env: [], clearInheritedEnv: false, originator: '' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ argv: ['/bin/true', 'a\0b'] }, /argv\[1\] .* contains a NUL byte/],
      [{ argv: ['/bin/tr\0ue'] }, /argv\[0\] .* contains a NUL byte/],
      [{ originator: 'tool\0:1' }, /originator .* contains a NUL byte/],
      [{ cwd: '/tm\0p' }, /cwd .* contains a NUL byte/],
    ];
    for (const [override, message] of cases) {
      const r = await daemon.client.send(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', { ...base, ...override });
      expect(r.code, JSON.stringify(override)).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
      expect(r.message).toMatch(message);
    }
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });
});
