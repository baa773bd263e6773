// The daemon's lean generated protobuf code (dist/src/gen/daemon-lean.js, built by scripts/build.mjs)
// must put the same bytes on the wire as the full module the clients use, and drop only the
// conversion helpers.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/wire/protobuf-config';

const GEN = path.join(__dirname, '..', '..', 'dist', 'src', 'gen');
type Gen = { running_process: { daemon: { v1: Record<string, any> } } }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('lean protobuf code for the daemon', () => {
  const full = (require(path.join(GEN, 'daemon.js')) as Gen).running_process.daemon.v1;
  const lean = (require(path.join(GEN, 'daemon-lean.js')) as Gen).running_process.daemon.v1;

  it('encodes and decodes requests and responses to the same bytes as the full code', () => {
    const request = { id: 7, type: full.RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, clientName: 'test',
      spawnPipeSession: { argv: ['sh', '-c', 'echo hi'], env: [{ key: 'A', value: 'b' }], mergeStderrIntoStdout: true } };
    const bytes = full.DaemonRequest.encode(request).finish();
    expect(Buffer.from(lean.DaemonRequest.encode(request).finish())).toEqual(Buffer.from(bytes));
    const decoded = lean.DaemonRequest.decode(bytes);
    expect(decoded.spawnPipeSession.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(decoded.spawnPipeSession.env[0].value).toBe('b');
    const response = { requestId: 7, code: full.StatusCode.STATUS_CODE_OK, spawnPipeSession: { sessionId: 'x', pid: 42, createdAt: 1.5 } };
    expect(Buffer.from(lean.DaemonResponse.encode(response).finish())).toEqual(Buffer.from(full.DaemonResponse.encode(response).finish()));
  });

  it('has no conversion helpers (what makes it smaller)', () => {
    expect(typeof full.DaemonRequest.fromObject).toBe('function');
    expect(lean.DaemonRequest.fromObject).toBeUndefined();
    expect(lean.DaemonRequest.prototype.toJSON).toBeUndefined();
  });
});
