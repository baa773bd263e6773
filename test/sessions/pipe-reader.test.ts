// Unit test of readPipe(): a child's pipe is read through the shared buffer (not the 'data'
// fallback), every byte of two concurrent children arrives intact and in order, and 'end' comes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readPipe } from '../../src/sessions/pipe-reader';

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns a node child writing `mb` MiB of a per-child pattern; resolves with the sha256 of what readPipe delivered. */
function readChild(seed: number, mb: number): { viaShared: boolean; done: Promise<{ bytes: number; hash: string }> } {
  const src = `const b = Buffer.alloc(1 << 20); for (let i = 0; i < b.length; i++) b[i] = (i * ${seed} + 7) & 255;
    let n = ${mb}; const w = () => { while (n > 0) { n--; if (!process.stdout.write(b)) return process.stdout.once('drain', w); } }; w();`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = readPipe(child.stdout!, (c) => {
    hash.update(c);
    bytes += c.length;
  });
  const done = new Promise<{ bytes: number; hash: string }>((resolve, reject) => {
    stream.once('end', () => resolve({ bytes, hash: hash.digest('hex') }));
    stream.once('error', reject);
  });
  return { viaShared: stream !== child.stdout, done };
}

function expectedHash(seed: number, mb: number): string {
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * seed + 7) & 255;
  const h = createHash('sha256');
  for (let i = 0; i < mb; i++) h.update(b);
  return h.digest('hex');
}

describe('readPipe', () => {
  it('reads two busy children through the shared buffer without mixing their bytes', async () => {
    const a = readChild(31, 8);
    const b = readChild(17, 8);
    expect(a.viaShared).toBe(true);
    expect(b.viaShared).toBe(true);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra).toEqual({ bytes: 8 << 20, hash: expectedHash(31, 8) });
    expect(rb).toEqual({ bytes: 8 << 20, hash: expectedHash(17, 8) });
  });

  it('falls back to data events for a stream that is not a pipe socket', async () => {
    const pass = new PassThrough();
    const got: Buffer[] = [];
    const stream = readPipe(pass, (c) => got.push(Buffer.from(c)));
    expect(stream).toBe(pass);
    pass.end('hello');
    await new Promise((r) => stream.once('end', r));
    expect(Buffer.concat(got).toString()).toBe('hello');
  });
});
