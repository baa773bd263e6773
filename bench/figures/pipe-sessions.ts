// Pipe-session figures: spawn-to-exit latency against a raw child_process.spawn of the same
// command, and attached-client throughput of `cat` of a big file against a raw pipe read.
// One daemon per run, in opts.workDir; everything it starts is stopped before returning.
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { attachedCatRun, rawCatMiBs, ratioRow, summarize, writePatternFile } from '../measure';
import { startBenchDaemon } from '../bench-daemon';
import { measureSpawnLatency } from '../spawn-latency';

/** Untimed spawns before each block of latency runs (steady state, not first-call compilation). */
const LATENCY_WARMUPS = 2;

export const figure: BenchFigure = {
  name: 'pipe-sessions',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const d = await startBenchDaemon(opts.workDir, 'pipe-sessions');
    try {
      const argv = ['true'];
      // Both paths timed from a fresh process in alternating blocks (bench/spawn-latency.ts): a raw
      // spawn from this benchmark process would fork all of its memory.
      const latency = measureSpawnLatency({
        scope: d.scope, home: d.home, argv, paths: ['raw-pipe', 'session-pipe-attached', 'session-pipe-two-requests'],
        blocks: { rounds: 3, perBlock: opts.smoke ? 1 : opts.quick ? 4 : 10, warmups: LATENCY_WARMUPS },
      });
      const raw = latency.times['raw-pipe'] ?? [];
      const viaSession = latency.times['session-pipe-attached'] ?? [];
      const twoRequests = latency.times['session-pipe-two-requests'] ?? [];
      const rawBaseline = { label: 'raw child_process.spawn → close', value: summarize(raw).value, unit: 'ms' };

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
        if (r.gotBytes + r.missedBytes !== bytes) throw new Error(`pipe session delivered ${r.gotBytes} + ${r.missedBytes} missed of ${bytes} bytes`);
        sessMiBs.push(r.gotBytes / (1024 * 1024) / r.secs);
        missed += r.missedBytes;
      }
      fs.rmSync(file, { force: true });

      return [
        ratioRow({
          id: 'pipe.spawn_to_exit.p50',
          label: `pipe session spawn→exit of \`${argv.join(' ')}\` (spawned attached to stdout: one request, until the exit frame)`,
          unit: 'ms', ...summarize(viaSession), target: '<= 1.5x',
          note: `all paths timed from one fresh node process (${latency.rssMb.toFixed(0)} MB RSS)`,
        }, rawBaseline, 1.5),
        ratioRow({
          id: 'pipe.spawn_then_attach_to_exit.p50', label: 'the same spawned, then attached (two requests)',
          unit: 'ms', ...summarize(twoRequests),
        }, rawBaseline, null),
        // `met` comes from the '>=' target and the missed bytes (completeRow): MiB/s counts the bytes
        // the client got, and a client that was told it missed some did not keep up.
        ratioRow({
          id: 'pipe.attached_cat_throughput',
          label: `attached client reading \`cat\` of a ${mb} MB file`,
          unit: 'MiB/s', ...summarize(sessMiBs), target: '>= 0.5x', missedBytes: missed,
          note: missed > 0 ? `the client was told it missed ${missed} of ${bytes * throughputRuns} bytes over the runs: not met while the daemon drops for a reader that keeps reading` : undefined,
        }, { label: 'raw pipe read of the same gated cat', value: summarize(rawMiBs).value, unit: 'MiB/s' }, null),
      ];
    } finally {
      await d.stop();
    }
  },
};
