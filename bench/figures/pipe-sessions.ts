// Pipe-session figures: spawn-to-exit latency against a raw child_process.spawn of the same
// command, and attached-client throughput of `cat` of a big file against a raw pipe read.
// One daemon per run, in opts.workDir; everything it starts is stopped before returning.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { connect } from '../../src/client';
import type { DaemonClient } from '../../src/client';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function spread(xs: number[]): { min: number; max: number; runs: number } {
  return { min: Math.min(...xs), max: Math.max(...xs), runs: xs.length };
}

async function startBenchDaemon(home: string): Promise<{ proc: ChildProcess; client: DaemonClient }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'runpmd'), '--scope', 'bench', '--home', home, '--reserve-bytes', '0', '--quiet'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return { proc, client: await connect({ scope: 'bench', home, autoStart: false, clientName: 'bench' }) };
    } catch (err) {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function stopBenchDaemon(d: { proc: ChildProcess; client: DaemonClient }): Promise<void> {
  const exited = new Promise((r) => d.proc.once('exit', r));
  await d.client.shutdown({ graceful: false }).catch(() => d.proc.kill('SIGKILL'));
  d.client.close();
  const timer = setTimeout(() => d.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Raw floor: spawn and wait for 'close' (exit and stdio drained). */
function rawSpawnToExitMs(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.resume();
    child.once('error', reject);
    child.once('close', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

/** Daemon path: SpawnPipeSession, then an attach that ends with the exit frame. */
async function sessionSpawnToExitMs(client: DaemonClient, argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const { sessionId } = await client.spawnPipe({ argv });
  const att = await client.attachPipe(sessionId);
  for await (const f of att) if (f.kind !== 'bytes' && f.kind !== 'missed') break;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await client.purge();
  return ms;
}

async function rawCatMiBs(file: string, bytes: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('cat', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout!.on('data', (c: Buffer) => (got += c.length));
    child.once('error', reject);
    child.once('close', () => resolve());
  });
  if (got !== bytes) throw new Error(`raw cat read ${got} of ${bytes} bytes`);
  return bytes / (1024 * 1024) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function sessionCatMiBs(client: DaemonClient, file: string): Promise<{ mibs: number; missed: number }> {
  // The child waits for a line so the client is attached before the first byte.
  const { sessionId } = await client.spawnPipe({ argv: ['sh', '-c', 'read go; exec cat "$0"', file] });
  const att = await client.attachPipe(sessionId);
  const t0 = process.hrtime.bigint();
  await client.writeStdin(sessionId, 'go\n');
  let got = 0;
  let missed = 0;
  for await (const f of att) {
    if (f.kind === 'bytes') got += f.data.length;
    else if (f.kind === 'missed') missed += f.bytes;
    else break;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await client.purge();
  return { mibs: got / (1024 * 1024) / secs, missed };
}

export const figure: BenchFigure = {
  name: 'pipe-sessions',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const home = path.join(opts.workDir, 'pipe-sessions');
    fs.mkdirSync(home, { recursive: true });
    const d = await startBenchDaemon(home);
    try {
      const argv = ['true'];
      const latencyRuns = opts.quick ? 10 : 30;
      const raw: number[] = [];
      const viaSession: number[] = [];
      await rawSpawnToExitMs(argv);
      await sessionSpawnToExitMs(d.client, argv);
      for (let i = 0; i < latencyRuns; i++) {
        raw.push(await rawSpawnToExitMs(argv));
        viaSession.push(await sessionSpawnToExitMs(d.client, argv));
      }

      const mb = opts.quick ? 50 : 200;
      const file = path.join(home, 'cat-input.bin');
      const block = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
      const fd = fs.openSync(file, 'w');
      for (let i = 0; i < mb; i++) fs.writeSync(fd, block);
      fs.closeSync(fd);
      const bytes = mb * 1024 * 1024;
      const throughputRuns = opts.quick ? 3 : 5;
      const rawMiBs: number[] = [];
      const sessMiBs: number[] = [];
      let missed = 0;
      for (let i = 0; i < throughputRuns; i++) {
        rawMiBs.push(await rawCatMiBs(file, bytes));
        const r = await sessionCatMiBs(d.client, file);
        sessMiBs.push(r.mibs);
        missed += r.missed;
      }
      fs.rmSync(file, { force: true });

      const lat = median(viaSession);
      const latRaw = median(raw);
      const thr = median(sessMiBs);
      const thrRaw = median(rawMiBs);
      return [
        {
          id: 'pipe.spawn_to_exit.p50',
          label: `pipe session spawn→exit of \`${argv.join(' ')}\` (spawn + attach until exit frame)`,
          value: lat, unit: 'ms', spread: spread(viaSession),
          baseline: { label: 'raw child_process.spawn → close', value: latRaw, unit: 'ms' },
          ratio: lat / latRaw, target: '<= 1.5x', met: lat / latRaw <= 1.5,
        },
        {
          id: 'pipe.attached_cat_throughput',
          label: `attached client reading \`cat\` of a ${mb} MB file`,
          value: thr, unit: 'MiB/s', spread: spread(sessMiBs),
          baseline: { label: 'raw pipe read of the same cat', value: thrRaw, unit: 'MiB/s' },
          ratio: thr / thrRaw, target: '>= 0.5x', met: thr / thrRaw >= 0.5,
          note: missed > 0 ? `client fell behind: ${missed} bytes reported missed over the runs` : undefined,
        },
      ];
    } finally {
      await stopBenchDaemon(d);
    }
  },
};
