// Tee figure: throughput of a pipe session running `cat` of a big file with one file tee (BLOCK,
// so the file gets every byte, and DROP_OLDEST) next to the same session without a tee, same run.
// The tee file lives on /dev/shm when there is one (memory: measures the tee, not the disk); one
// more row tees to a file in workDir, where the disk's write speed is the limit.
// Throughput = bytes / time from "go" to the exit frame of an attached reader (the reader may miss
// bytes; it never slows the child). One daemon in opts.workDir, stopped before returning.
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
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'runpmd'), '--scope', 'bench-tee', '--home', home, '--reserve-bytes', '0', '--quiet'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return { proc, client: await connect({ scope: 'bench-tee', home, autoStart: false, clientName: 'bench' }) };
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

type TeeMode = 'none' | 'block' | 'drop-oldest' | 'block-disk';

/** One `cat` session, optionally teed into teeFile; MiB/s from "go" to the stream's end. */
async function catThroughput(client: DaemonClient, file: string, bytes: number, mode: TeeMode, teeFiles: { mem: string; disk: string }): Promise<{ mibs: number; teeMissed: number }> {
  const { sessionId } = await client.spawnPipe({ argv: ['sh', '-c', 'read go; exec cat "$0"', file] });
  let handle = 0;
  const teeFile = mode === 'block-disk' ? teeFiles.disk : teeFiles.mem;
  if (mode !== 'none') {
    handle = await client.registerSessionTee({ sessionId, sessionKind: 'pipe', filePath: teeFile, truncate: true, block: mode !== 'drop-oldest' });
  }
  const att = await client.attachPipe(sessionId);
  const t0 = process.hrtime.bigint();
  await client.writeStdin(sessionId, 'go\n');
  for await (const f of att) if (f.kind !== 'bytes' && f.kind !== 'missed') break;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  let teeMissed = 0;
  if (handle) {
    teeMissed = (await client.getSessionTeeStatus(sessionId, 'pipe', handle)).missedBytes;
    await client.unregisterSessionTee(sessionId, 'pipe', handle);
    const size = fs.statSync(teeFile).size;
    if (mode !== 'drop-oldest' && size !== bytes) throw new Error(`BLOCK tee wrote ${size} of ${bytes} bytes`);
    fs.rmSync(teeFile, { force: true });
  }
  await client.purge();
  return { mibs: bytes / (1024 * 1024) / secs, teeMissed };
}

export const figure: BenchFigure = {
  name: 'tee',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const home = path.join(opts.workDir, 'tee');
    fs.mkdirSync(home, { recursive: true });
    const d = await startBenchDaemon(home);
    try {
      const mb = opts.quick ? 50 : 200;
      const file = path.join(home, 'cat-input.bin');
      const block = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
      const fd = fs.openSync(file, 'w');
      for (let i = 0; i < mb; i++) fs.writeSync(fd, block);
      fs.closeSync(fd);
      const bytes = mb * 1024 * 1024;
      const memDir = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rp-bench-tee-') : home;
      const teeFiles = { mem: path.join(memDir, 'tee-output.bin'), disk: path.join(home, 'tee-output.bin') };
      const runs = opts.quick ? 3 : 5;
      const results: Record<TeeMode, number[]> = { none: [], block: [], 'drop-oldest': [], 'block-disk': [] };
      let dropMissed = 0;
      await catThroughput(d.client, file, bytes, 'block', teeFiles); // warm-up
      for (let i = 0; i < runs; i++) {
        // Interleaved so drift (other load on the machine) hits every variant alike.
        for (const mode of ['none', 'block', 'drop-oldest', 'block-disk'] as const) {
          const r = await catThroughput(d.client, file, bytes, mode, teeFiles);
          results[mode].push(r.mibs);
          if (mode === 'drop-oldest') dropMissed += r.teeMissed;
        }
      }
      fs.rmSync(file, { force: true });
      if (memDir !== home) fs.rmSync(memDir, { recursive: true, force: true });
      const where = memDir !== home ? 'on tmpfs (/dev/shm)' : 'in the work directory (no /dev/shm)';
      const none = median(results.none);
      const row = (mode: Exclude<TeeMode, 'none'>, label: string, note?: string): BenchResult => {
        const v = median(results[mode]);
        return {
          id: `tee.${mode.replace('-', '_')}_cat_throughput`,
          label,
          value: v, unit: 'MiB/s', spread: spread(results[mode]),
          baseline: { label: 'same session without a tee', value: none, unit: 'MiB/s' },
          ratio: v / none, target: '>= 0.8x', met: v / none >= 0.8,
          note,
        };
      };
      return [
        row('block', `pipe session \`cat\` of ${mb} MB with one BLOCK file tee ${where} (file gets every byte)`),
        row('drop-oldest', `pipe session \`cat\` of ${mb} MB with one DROP_OLDEST file tee ${where}`,
          dropMissed > 0 ? `the tee dropped ${dropMissed} bytes over the runs (file slower than the child)` : undefined),
        row('block-disk', `pipe session \`cat\` of ${mb} MB with one BLOCK file tee on the work directory's disk`,
          'bounded by how fast the disk takes a fresh file (dirty-page writeback), not by the daemon'),
      ];
    } finally {
      await stopBenchDaemon(d);
    }
  },
};
