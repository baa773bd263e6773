// Soak: the PTY tail-loss race, repeated many times (RUNPM_SOAK_RUNS, default 200 per case), with
// and without two CPU hogs. Run with `npm run soak`.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyHost } from '../../src/sessions/pty-host';

const RUNS = Number(process.env.RUNPM_SOAK_RUNS ?? 200);
let dir = '';
let file = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptysoak-'));
  file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, crypto.randomBytes(20_000_000));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function catOnce(): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    PtyHost.spawn(
      { file: 'sh', args: ['-c', `stty raw -echo; exec cat ${file}`], cwd: dir, env: process.env as Record<string, string>, rows: 24, cols: 80 },
      { onData: (c) => (n += c.length), onExit: () => resolve(n) },
    );
  });
}

async function soak(): Promise<number[]> {
  const short: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const n = await catOnce();
    if (n !== 20_000_000) short.push(20_000_000 - n);
  }
  return short;
}

describe.runIf(process.env.RUNPM_SOAK)('PTY tail-loss soak', () => {
  it(`cat 20 MB x ${RUNS}: never short`, async () => {
    expect(await soak()).toEqual([]);
  });

  it(`cat 20 MB x ${RUNS} under two CPU hogs: never short`, async () => {
    const hogs: ChildProcess[] = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    try {
      expect(await soak()).toEqual([]);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
  });
});
