// dist/ runs pbjs code rewritten so each type of the package is built on first read
// (scripts/lazy-protobuf-types.mjs). The rewrite must keep the wire bytes and the generated API,
// build nothing until asked, and refuse a layout it does not know instead of half-rewriting it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/wire/protobuf-config';
import { pb } from '../../src/wire/proto';

const ROOT = path.join(__dirname, '..', '..');
const DIST_GEN = path.join(ROOT, 'dist', 'src', 'gen', 'daemon.js');
type V1 = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function rewrite(source: string): Promise<string> {
  const { makeProtobufTypesLazy } = (await import(path.join(ROOT, 'scripts', 'lazy-protobuf-types.mjs'))) as {
    makeProtobufTypesLazy(s: string): string;
  };
  return makeProtobufTypesLazy(source);
}

describe('lazily built protobuf types', () => {
  it('builds a type on its first read, then keeps it as a plain property', () => {
    // A fresh copy of the module: other tests in this worker may have read its types already.
    const fresh = path.join(path.dirname(DIST_GEN), `daemon-lazy-probe-${process.pid}.js`);
    fs.copyFileSync(DIST_GEN, fresh);
    try {
      const v1 = (require(fresh) as { running_process: { daemon: { v1: V1 } } }).running_process.daemon.v1;
      const before = Object.getOwnPropertyDescriptor(v1, 'SpawnPipeSessionRequest')!;
      expect(typeof before.get).toBe('function');
      expect(Object.keys(v1)).toContain('SpawnPipeSessionRequest');
      const type = v1.SpawnPipeSessionRequest;
      const after = Object.getOwnPropertyDescriptor(v1, 'SpawnPipeSessionRequest')!;
      expect(after.get).toBeUndefined();
      expect(after.value).toBe(type);
      expect(v1.SpawnPipeSessionRequest).toBe(type);
    } finally {
      fs.rmSync(fresh, { force: true });
    }
  });

  it('puts the same bytes on the wire as the eager code and keeps the conversion helpers', () => {
    const lazy = (require(DIST_GEN) as { running_process: { daemon: { v1: V1 } } }).running_process.daemon.v1;
    const request = { id: 9, type: pb.RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, clientName: 'lazy',
      spawnPipeSession: { argv: ['sh', '-c', 'echo hi'], env: [{ key: 'A', value: 'b' }], mergeStderrIntoStdout: true } };
    const eager = pb.DaemonRequest.encode(request).finish();
    expect(Buffer.from(lazy.DaemonRequest.encode(request).finish())).toEqual(Buffer.from(eager));
    const decoded = lazy.DaemonRequest.decode(eager);
    expect(decoded.spawnPipeSession.env[0].key).toBe('A');
    expect(decoded.toJSON().spawnPipeSession.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(lazy.RequestType.REQUEST_TYPE_PING).toBe(pb.RequestType.REQUEST_TYPE_PING);
  });

  it('fails on a layout it does not know rather than rewriting part of it', async () => {
    await expect(rewrite('var $root = {};\n')).rejects.toThrow(/unexpected pbjs layout/);
    const unclosed = ['var $root = {};', '            var v1 = {};', '            v1.A = (function() {', '                return 1;'].join('\n');
    await expect(rewrite(unclosed)).rejects.toThrow(/unexpected pbjs layout/);
  });
});
