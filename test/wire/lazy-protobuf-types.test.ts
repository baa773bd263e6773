// dist/ runs pbjs code rewritten so each type of the package is built on first read
// (scripts/lazy-protobuf-types.mjs). The rewrite must keep the wire bytes and the generated API,
// build nothing until asked, and refuse a layout it does not know instead of half-rewriting it.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pb } from '../../src/wire/proto';

const ROOT = path.join(__dirname, '..', '..');
const DIST_GEN = path.join(ROOT, 'dist', 'src', 'gen', 'daemon.js');

async function rewrite(source: string): Promise<string> {
  const { makeProtobufTypesLazy } = (await import(path.join(ROOT, 'scripts', 'lazy-protobuf-types.mjs'))) as {
    makeProtobufTypesLazy(s: string): string;
  };
  return makeProtobufTypesLazy(source);
}

/**
 * Runs `body` in a fresh node process with the given generated module loaded as `v1`. Each module
 * gets its own process: both install themselves as protobufjs's default root, so in one process
 * the second would answer for the first's nested messages.
 */
function inFreshProcess(genModule: string, body: string): string {
  const script = `require(${JSON.stringify(path.join(ROOT, 'node_modules', 'protobufjs', 'dist', 'minimal', 'protobuf.js'))}).util.Long = undefined;
require(${JSON.stringify(path.join(ROOT, 'node_modules', 'protobufjs', 'dist', 'minimal', 'protobuf.js'))}).configure();
const v1 = require(${JSON.stringify(genModule)}).running_process.daemon.v1;
${body}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

const REQUEST = `({ id: 9, type: v1.RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, clientName: 'lazy',
  spawnPipeSession: { argv: ['sh', '-c', 'echo hi'], env: [{ key: 'A', value: 'b' }], mergeStderrIntoStdout: true } })`;

describe('lazily built protobuf types', () => {
  it('builds a type on its first read, then keeps it as a plain property', () => {
    const out = inFreshProcess(DIST_GEN, `
const d = (k) => Object.getOwnPropertyDescriptor(v1, k);
const before = typeof d('SpawnPipeSessionRequest').get;
const listed = Object.keys(v1).includes('SpawnPipeSessionRequest');
const type = v1.SpawnPipeSessionRequest;
console.log(JSON.stringify({ before, listed, after: typeof d('SpawnPipeSessionRequest').get, same: d('SpawnPipeSessionRequest').value === type && v1.SpawnPipeSessionRequest === type }));`);
    expect(JSON.parse(out)).toEqual({ before: 'function', listed: true, after: 'undefined', same: true });
  });

  it('puts the same bytes on the wire as the eager code and keeps the conversion helpers', () => {
    const encode = `console.log(Buffer.from(v1.DaemonRequest.encode(${REQUEST}).finish()).toString('hex'));`;
    const eager = inFreshProcess(path.join(ROOT, 'src', 'gen', 'daemon.js'), encode);
    const lazy = inFreshProcess(DIST_GEN, encode);
    expect(lazy).toBe(eager);
    expect(eager.length).toBeGreaterThan(40);
    const decoded = JSON.parse(inFreshProcess(DIST_GEN, `
const m = v1.DaemonRequest.decode(Buffer.from(${JSON.stringify(eager)}, 'hex'));
console.log(JSON.stringify({ key: m.spawnPipeSession.env[0].key, argv: m.toJSON().spawnPipeSession.argv, ping: v1.RequestType.REQUEST_TYPE_PING }));`));
    expect(decoded).toEqual({ key: 'A', argv: ['sh', '-c', 'echo hi'], ping: pb.RequestType.REQUEST_TYPE_PING });
  });

  it('fails on a layout it does not know rather than rewriting part of it', async () => {
    await expect(rewrite('var $root = {};\n')).rejects.toThrow(/unexpected pbjs layout/);
    const unclosed = ['var $root = {};', '            var v1 = {};', '            v1.A = (function() {', '                return 1;'].join('\n');
    await expect(rewrite(unclosed)).rejects.toThrow(/unexpected pbjs layout/);
  });
});
