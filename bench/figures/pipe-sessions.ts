// Pipe-session figures: spawn-to-exit latency against a raw child_process.spawn of the same
// command, and attached-client throughput of `cat` of a big file against a raw pipe read.
// One daemon per run, in opts.workDir; everything it starts is stopped before returning.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { attachedCatRun, rawCatMiBs, ratioRow, summarize, writePatternFile } from '../measure';
import { startBenchDaemon } from '../bench-daemon';
import type { DaemonClient } from '../../src/client';

/** Untimed spawn rounds before the latency runs (steady state, not first-call compilation). */
const LATENCY_WARMUPS = 5;

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

export const figure: BenchFigure = {
  name: 'pipe-sessions',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const d = await startBenchDaemon(opts.workDir, 'pipe-sessions');
    try {
      const argv = ['true'];
      const latencyRuns = opts.smoke ? 3 : opts.quick ? 10 : 30;
      const raw: number[] = [];
      const viaSession: number[] = [];
      // Warm-up rounds (both paths): the first spawns compile the daemon's and the client's code.
      for (let i = 0; i < LATENCY_WARMUPS; i++) {
        await rawSpawnToExitMs(argv);
        await sessionSpawnToExitMs(d.client, argv);
      }
      for (let i = 0; i < latencyRuns; i++) {
        raw.push(await rawSpawnToExitMs(argv));
        viaSession.push(await sessionSpawnToExitMs(d.client, argv));
      }

      const mb = opts.smoke ? 8 : opts.quick ? 50 : 200;
      const file = path.join(opts.workDir, 'cat-input.bin');
      const bytes = writePatternFile(file, mb);
      const throughputRuns = opts.smoke ? 1 : opts.quick ? 3 : 5;
      const rawMiBs: number[] = [];
      const sessMiBs: number[] = [];
      let missed = 0;
      for (let i = 0; i < throughputRuns; i++) {
        rawMiBs.push(await rawCatMiBs(file, bytes));
        const r = await attachedCatRun(d.client, file);
        await d.client.purge();
        sessMiBs.push(r.gotBytes / (1024 * 1024) / r.secs);
        missed += r.missedBytes;
      }
      fs.rmSync(file, { force: true });

      return [
        ratioRow({
          id: 'pipe.spawn_to_exit.p50',
          label: `pipe session spawn→exit of \`${argv.join(' ')}\` (spawn + attach until exit frame)`,
          unit: 'ms', ...summarize(viaSession), target: '<= 1.5x',
        }, { label: 'raw child_process.spawn → close', value: summarize(raw).value, unit: 'ms' }, 1.5),
        // `met` comes from the '>=' target (completeRow).
        ratioRow({
          id: 'pipe.attached_cat_throughput',
          label: `attached client reading \`cat\` of a ${mb} MB file`,
          unit: 'MiB/s', ...summarize(sessMiBs), target: '>= 0.5x',
          note: missed > 0 ? `client fell behind: ${missed} bytes reported missed over the runs` : undefined,
        }, { label: 'raw pipe read of the same cat', value: summarize(rawMiBs).value, unit: 'MiB/s' }, null),
      ];
    } finally {
      await d.stop();
    }
  },
};
