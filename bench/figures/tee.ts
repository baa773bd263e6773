// Tee figure: throughput of a pipe session running `cat` of a big file with one file tee (BLOCK,
// so the file gets every byte, and DROP_OLDEST) next to the same session without a tee, same run.
// The tee file lives on /dev/shm when there is one (memory: measures the tee, not the disk); one
// more row tees to a file in workDir, where the disk's write speed is the limit.
// Throughput = bytes / time from "go" to the exit frame of an attached reader. Every row reports the
// bytes its readers missed (the attached client's, and a DROP_OLDEST tee's drops) and is not met
// with any (bench/report.ts). One daemon in opts.workDir, stopped before returning.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { attachedCatRun, ratioRow, summarize, writePatternFile } from '../measure';
import { startBenchDaemon } from '../bench-daemon';
import type { DaemonClient } from '../../src/client';

type TeeMode = 'none' | 'block' | 'drop-oldest' | 'block-disk';

/** One `cat` session, optionally teed into a file; MiB/s of the file from "go" to the stream's end. */
async function catThroughput(client: DaemonClient, file: string, bytes: number, mode: TeeMode, teeFiles: { mem: string; disk: string }): Promise<{ mibs: number; teeMissed: number; readerMissed: number }> {
  let handle = 0;
  const teeFile = mode === 'block-disk' ? teeFiles.disk : teeFiles.mem;
  const run = await attachedCatRun(client, file, async (sessionId) => {
    if (mode === 'none') return;
    handle = await client.registerSessionTee({ sessionId, sessionKind: 'pipe', filePath: teeFile, truncate: true, block: mode !== 'drop-oldest' });
  });
  let teeMissed = 0;
  if (handle) {
    teeMissed = (await client.getSessionTeeStatus(run.sessionId, 'pipe', handle)).missedBytes;
    await client.unregisterSessionTee(run.sessionId, 'pipe', handle);
    const size = fs.statSync(teeFile).size;
    if (mode !== 'drop-oldest' && size !== bytes) throw new Error(`BLOCK tee wrote ${size} of ${bytes} bytes`);
    fs.rmSync(teeFile, { force: true });
  }
  await client.purge();
  if (run.gotBytes + run.missedBytes !== bytes) throw new Error(`the attached reader got ${run.gotBytes} + ${run.missedBytes} missed of ${bytes} bytes`);
  return { mibs: bytes / (1024 * 1024) / run.secs, teeMissed, readerMissed: run.missedBytes };
}

export const figure: BenchFigure = {
  name: 'tee',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const d = await startBenchDaemon(opts.workDir, 'tee');
    const memDir = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rp-bench-tee-') : opts.workDir;
    try {
      const mb = opts.smoke ? 8 : opts.quick ? 50 : 200;
      const file = path.join(opts.workDir, 'cat-input.bin');
      const bytes = writePatternFile(file, mb);
      const teeFiles = { mem: path.join(memDir, 'tee-output.bin'), disk: path.join(opts.workDir, 'tee-output.bin') };
      const runs = opts.smoke ? 1 : opts.quick ? 3 : 5;
      const results: Record<TeeMode, number[]> = { none: [], block: [], 'drop-oldest': [], 'block-disk': [] };
      const readerMissed: Record<TeeMode, number> = { none: 0, block: 0, 'drop-oldest': 0, 'block-disk': 0 };
      let dropMissed = 0;
      await catThroughput(d.client, file, bytes, 'block', teeFiles); // warm-up
      for (let i = 0; i < runs; i++) {
        // Interleaved so drift (other load on the machine) hits every variant alike.
        for (const mode of ['none', 'block', 'drop-oldest', 'block-disk'] as const) {
          const r = await catThroughput(d.client, file, bytes, mode, teeFiles);
          results[mode].push(r.mibs);
          readerMissed[mode] += r.readerMissed;
          if (mode === 'drop-oldest') dropMissed += r.teeMissed;
        }
      }
      fs.rmSync(file, { force: true });
      const where = memDir !== opts.workDir ? 'on tmpfs (/dev/shm)' : 'in the work directory (no /dev/shm)';
      const none = { label: 'same session without a tee', value: summarize(results.none).value, unit: 'MiB/s', missedBytes: readerMissed.none };
      const lossNote = (mode: Exclude<TeeMode, 'none'>, teeDropped = 0): string | undefined => {
        const parts = [
          readerMissed[mode] > 0 ? `the attached reader was told it missed ${readerMissed[mode]} bytes` : '',
          teeDropped > 0 ? `the tee dropped ${teeDropped} bytes (file slower than the child)` : '',
          readerMissed.none > 0 ? `the no-tee baseline's reader missed ${readerMissed.none} bytes` : '',
        ].filter(Boolean);
        return parts.length > 0 ? `over the runs: ${parts.join('; ')}` : undefined;
      };
      const row = (mode: Exclude<TeeMode, 'none'>, label: string, notes: Array<string | undefined>, teeDropped = 0): BenchResult =>
        ratioRow({ id: `tee.${mode.replace('-', '_')}_cat_throughput`, label, unit: 'MiB/s', ...summarize(results[mode]), target: '>= 0.8x',
          missedBytes: readerMissed[mode] + teeDropped, note: [...notes, lossNote(mode, teeDropped)].filter(Boolean).join('; ') || undefined }, none, null);
      return [
        row('block', `pipe session \`cat\` of ${mb} MB with one BLOCK file tee ${where} (file gets every byte)`, []),
        row('drop-oldest', `pipe session \`cat\` of ${mb} MB with one DROP_OLDEST file tee ${where}`, [], dropMissed),
        row('block-disk', `pipe session \`cat\` of ${mb} MB with one BLOCK file tee on the work directory's disk`,
          ['bounded by how fast the disk takes a fresh file (dirty-page writeback), not by the daemon']),
      ];
    } finally {
      if (memDir !== opts.workDir) fs.rmSync(memDir, { recursive: true, force: true });
      await d.stop();
    }
  },
};
