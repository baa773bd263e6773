// Black-box: service logs are byte-exact files (the daemon writes what runs print into their log
// pipes); ServiceLogs returns labelled tails; flush empties them; rotation keeps N files and the
// total within limit × (N + 1), and loses no line of a writer as fast as the pipe takes it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function rotatedSizes(file: string, upTo: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= upTo + 2; i++) if (fs.existsSync(`${file}.${i}`)) out.push(fs.statSync(`${file}.${i}`).size);
  return out;
}

describe('service logs', () => {
  it('writes stdout and stderr byte-exact and returns labelled tails', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('talker', "printf 'one\\ntwo\\nthree\\n'; printf 'bad\\001\\n' >&2; exec sleep 30"));
    const out = path.join(daemon.paths.logsDir, 'talker-out.log');
    const err = path.join(daemon.paths.logsDir, 'talker-error.log');
    await waitFor(() => fs.existsSync(err) && fs.statSync(err).size === 5, 'stderr written');
    await waitFor(() => fs.statSync(out).size === 14, 'stdout written');
    expect(fs.readFileSync(out, 'utf8')).toBe('one\ntwo\nthree\n');
    expect(fs.readFileSync(err)).toEqual(Buffer.from('bad\x01\n'));
    expect(await c.serviceLogs({ target: 'talker', lines: 2 })).toBe('[talker:out] two\n[talker:out] three\n[talker:err] bad\x01\n');
    expect(await c.serviceLogs({ target: 'talker', errOnly: true })).toBe('[talker:err] bad\x01\n');
    expect(await c.serviceLogs({ target: '', outOnly: true, lines: 1 })).toBe('[talker:out] three\n');
    expect(await c.flushServiceLogs('talker')).toBe(1);
    expect(fs.statSync(out).size).toBe(0);
    expect(await c.serviceLogs({})).toBe('');
  });

  it('rotates at the size limit, keeps N files, and never holds more than limit × (N + 1)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const limit = 4096;
    const keep = 2;
    // 100-byte lines, 400 of them (10× the limit), in small bursts.
    const line = 'x'.repeat(99);
    const script = `i=0; while [ $i -lt 400 ]; do echo "${line}"; i=$((i+1)); case $i in *0) sleep 0.01;; esac; done; echo done > ${path.join(daemon.home, 'finished')}; exec sleep 30`;
    await c.startService(shService('chatty', script, { logMaxBytes: limit, logMaxFiles: keep }));
    const out = path.join(daemon.paths.logsDir, 'chatty-out.log');
    let samples = 0;
    while (!fs.existsSync(path.join(daemon.home, 'finished'))) {
      // Rotated files are each within the limit and never more than N of them, at every moment.
      const rotated = rotatedSizes(out, keep);
      expect(rotated.length).toBeLessThanOrEqual(keep);
      for (const size of rotated) expect(size).toBeLessThanOrEqual(limit);
      samples++;
      await new Promise((r) => setTimeout(r, 5)); // poll: sample again until the writer is finished
    }
    expect(samples).toBeGreaterThan(0);
    // At rest (the live file checked), the total is within the bound.
    await waitFor(() => fs.statSync(out).size < limit, 'the live file rotated below the limit');
    const total = fs.statSync(out).size + rotatedSizes(out, keep).reduce((a, b) => a + b, 0);
    expect(rotatedSizes(out, keep)).toHaveLength(keep);
    expect(total).toBeLessThanOrEqual(limit * (keep + 1));
    expect(fs.existsSync(`${out}.${keep + 1}`)).toBe(false);
    // The newest output is still there, whole lines.
    expect(await c.serviceLogs({ target: 'chatty', lines: 3, outOnly: true })).toBe(`[chatty:out] ${line}\n`.repeat(3));
    // Flush removes the rotated files too.
    await c.flushServiceLogs('');
    expect(rotatedSizes(out, keep)).toEqual([]);
  });

  it('rotation loses no line of a fast numbered writer: every line once, in order, files within the limit, none split', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const limit = 16 * 1024;
    const keep = 100;
    const lines = 200_000; // seq 1 200000: 1.29 MB, about 79 files of 16 KiB, as fast as seq writes
    await c.startService({ name: 'numbers', cmd: ['seq', '1', String(lines)], autorestart: false, logMaxBytes: limit, logMaxFiles: keep });
    const out = path.join(daemon.paths.logsDir, 'numbers-out.log');
    // The live file is briefly absent while a rotation renames it away and the next one in.
    const live = (): string => { try { return fs.readFileSync(out, 'utf8'); } catch { return ''; } };
    await waitFor(() => live().endsWith(`\n${lines}\n`), 'the last line in the live file', 30_000);
    const files = [...Array.from({ length: keep }, (_, i) => `${out}.${keep - i}`).filter((f) => fs.existsSync(f)), out];
    const rotated = files.length - 1;
    expect(rotated).toBeGreaterThan(70);
    expect(rotated).toBeLessThan(keep);
    const seen: number[] = [];
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      expect(text.length).toBeLessThanOrEqual(limit);
      expect(text.endsWith('\n')).toBe(true); // a line that fits a file is never split across two
      for (const l of text.split('\n').slice(0, -1)) seen.push(Number(l));
    }
    expect(seen.length).toBe(lines);
    const wrong = seen.findIndex((n, i) => n !== i + 1);
    expect(wrong).toBe(-1);
    expect(fs.readdirSync(daemon.paths.logsDir).filter((f) => f.includes('.next-'))).toEqual([]);
    console.log(`rotation: ${lines} numbered lines (${seen.length} found, 0 missing, 0 repeated) over ${rotated} rotations of ${limit} B`);
  });
});
