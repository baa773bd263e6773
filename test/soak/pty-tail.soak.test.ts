// Soak: the PTY tail-loss race, repeated many times (RUNPM_SOAK_RUNS, default 200 per case), with
// and without two CPU hogs. Run with `npm run soak`.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyHost } from '../../src/sessions/pty-host';
import { startDaemon } from '../helpers/daemon';
import '../../src/client/pty-api';
import '../../src/client/sessions-api';

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

  it(`through the daemon: cat 5 MB in a PTY session x ${RUNS}, attached client gets every byte`, async () => {
    const daemon = await startDaemon({ args: ['--ring-bytes', String(8 * 1024 * 1024)] });
    try {
      const small = path.join(dir, 'small.bin');
      fs.writeFileSync(small, crypto.randomBytes(5_000_000));
      const short: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const { sessionId } = await daemon.client.spawnPty({ argv: ['sh', '-c', `stty raw -echo; exec cat ${small}`] });
        const att = await daemon.client.attachPty(sessionId, { replay: 'ring' });
        let n = att.backlog.length;
        let exit: number | null = null;
        for await (const f of att) {
          if (f.kind === 'output') n += f.data.length;
          else if (f.kind === 'exit') exit = f.code;
        }
        if (n !== 5_000_000 || exit !== 0) short.push(5_000_000 - n);
        await daemon.client.purge();
      }
      expect(short).toEqual([]);
    } finally {
      await daemon.stop();
    }
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
