// Black-box: ServiceLogs with follow streams the lines written after the tail from the daemon
// (no client polling): every line of a burst larger than the socket buffers arrives in order,
// a flushed log goes on being followed, services defined later are followed under "all", and
// `runpm logs --follow` prints them without piling up listeners.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPM, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import type { ServiceLogLine } from '../../src/client';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Collects a follow's lines in the background; `lines` grows as they arrive. */
function collect(follow: AsyncIterable<ServiceLogLine>): { lines: ServiceLogLine[]; done: Promise<void> } {
  const lines: ServiceLogLine[] = [];
  const done = (async () => {
    for await (const l of follow) lines.push(l);
  })();
  return { lines, done };
}

describe('service logs follow', () => {
  it('streams every line of a 6 MB burst in order after the tail, and goes on after a flush', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const burst = 60_000;
    // Waits for a go file so the follow is open before the burst starts.
    const go = `${daemon.home}/go`;
    await c.startService(shService('burst', `echo first; echo second; while [ ! -e ${go} ]; do sleep 0.01; done; `
      + `awk 'BEGIN { for (i = 1; i <= ${burst}; i++) printf "line %06d %s\\n", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }'; `
      + `while [ ! -e ${go}2 ]; do sleep 0.01; done; echo after-flush; exec sleep 30`));
    await waitFor(async () => (await c.serviceLogs({ target: 'burst', outOnly: true })).includes('second'), 'the first lines');
    const follow = await c.followServiceLogs({ target: 'burst', lines: 1, outOnly: true });
    expect(follow.tail).toBe('[burst:out] second\n');
    const got = collect(follow);
    fs.writeFileSync(go, '');
    await waitFor(() => got.lines.length >= burst, `all ${burst} lines (got ${got.lines.length})`, 30_000);
    const numbers = got.lines.map((l) => Number(/^line (\d+) /.exec(l.line)?.[1]));
    expect(numbers).toEqual(Array.from({ length: burst }, (_, i) => i + 1));
    expect(got.lines.every((l) => l.service === 'burst' && l.stream === 'out')).toBe(true);
    expect(await c.flushServiceLogs('burst')).toBe(1);
    fs.writeFileSync(`${go}2`, '');
    await waitFor(() => got.lines.some((l) => l.line === 'after-flush'), 'the line written after the flush');
    follow.close();
    await got.done;
  });

  it('follows under "all" a service defined after the follow began, both streams labelled', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    await c.startService(shService('early', 'exec sleep 30'));
    const follow = await c.followServiceLogs({ target: 'all' });
    expect(follow.tail).toBe('');
    const got = collect(follow);
    await c.startService(shService('late', 'echo to-out; echo to-err >&2; exec sleep 30'));
    await waitFor(() => got.lines.length >= 2, 'both lines of the late service');
    expect(got.lines.map((l) => `${l.service}:${l.stream}:${l.line}`).sort()).toEqual(['late:err:to-err', 'late:out:to-out']);
    follow.close();
    await got.done;
  });

  it('runpm logs --follow prints lines as they come, with no listener piling up', async () => {
    daemon = await startDaemon();
    await daemon.client.startService(shService('ticker', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.02; done'));
    const follower = spawn(process.execPath, [RUNPM, 'logs', 'ticker', '--follow', '--lines', '0', '--out'], { env: daemon.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    follower.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      // 100 lines take about 2 s: longer than the old per-poll abort listeners took to warn.
      await waitFor(() => (out.match(/\[ticker:out\] tick \d+\n/g) ?? []).length >= 100, 'a hundred followed lines', 20_000);
    } finally {
      follower.kill('SIGINT');
      await new Promise((resolve) => follower.on('exit', resolve));
    }
    expect(err).not.toContain('MaxListenersExceededWarning');
    const ticks = (out.match(/tick (\d+)/g) ?? []).map((t) => Number(t.slice(5)));
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBe(ticks[i - 1] + 1);
  });
});
