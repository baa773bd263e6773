// The benchmark harness must not rot: one tiny `--smoke` run of the built runner (a real daemon,
// a raw echo server, two CLI runs) checked for the rows it reports, plus the pure report helpers.
// Nothing here asserts a speed: timings belong to `npm run bench`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, makeTempHome } from '../helpers/daemon';
import { completeRow, formatTable, parseTarget, renderSvg, toJson, type RunReport } from '../../bench/report';
import type { BenchResult } from '../../bench/harness';
import { controlOutputBytes } from '../../bench/tmux-control';

const RUNNER = path.join(ROOT, 'dist', 'bench', 'run.js');

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let outDir: string | null = null;
afterEach(() => {
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  outDir = null;
});

describe('bench harness smoke run', () => {
  it('runs the core figure and writes latest.json with finite numbers and latest.svg', async () => {
    outDir = makeTempHome('rpb-test-');
    const run = await runBench(['--smoke', '--out', outDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('PING round trip p50 via the client');

    const report = JSON.parse(fs.readFileSync(path.join(outDir, 'latest.json'), 'utf8')) as RunReport;
    expect(report.mode).toBe('smoke');
    expect(report.figures.map((f) => f.name)).toEqual(['core']);
    expect(report.figures[0].error).toBeUndefined();
    const byId = new Map(report.results.map((r) => [r.id, r]));
    for (const id of ['ping.p50', 'ping.p99', 'cli.ping', 'cli.version']) {
      const row = byId.get(id);
      expect(row, `row ${id}`).toBeDefined();
      expect(Number.isFinite(row!.value) && row!.value > 0, `${id} value ${row!.value}`).toBe(true);
      expect(Number.isFinite(row!.baseline?.value), `${id} baseline`).toBe(true);
      expect(Number.isFinite(row!.ratio), `${id} ratio`).toBe(true);
      expect(typeof row!.met).toBe('boolean');
      expect(row!.spread!.runs).toBeGreaterThanOrEqual(1);
    }
    expect(byId.get('cli.ping')!.spread!.runs).toBe(2);
    expect(fs.readFileSync(path.join(outDir, 'latest.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*PING round trip p50[\s\S]*<\/svg>\n$/);
  });

  it('runs the scale figure (backlog, list, RSS, busy sessions) in smoke size', async () => {
    outDir = makeTempHome('rpb-test-');
    const run = await runBench(['--smoke', '--only', 'scale', '--out', outDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(outDir, 'latest.json'), 'utf8')) as RunReport;
    expect(report.figures).toEqual([expect.objectContaining({ name: 'scale' })]);
    expect(report.figures[0].error).toBeUndefined();
    const ids = report.results.map((r) => r.id);
    for (const id of ['scale.backlog_first_live_byte', 'scale.list_many', 'scale.rss.per_idle_session',
      'scale.rss.full_rings', 'scale.busy_aggregate']) {
      const row = report.results.find((r) => r.id === id);
      expect(row, `row ${id} (have ${ids.join(', ')})`).toBeDefined();
      expect(Number.isFinite(row!.value), `${id} value ${row!.value}`).toBe(true);
    }
    expect(report.results.find((r) => r.id === 'scale.list_many')!.baseline!.value).toBeGreaterThan(0);
  });

  it('runs the PTY figure: a lossless C floor, tmux peers, missed bytes on every throughput row', async () => {
    outDir = makeTempHome('rpb-test-');
    const run = await runBench(['--smoke', '--only', 'pty-sessions', '--out', outDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(outDir, 'latest.json'), 'utf8')) as RunReport;
    expect(report.figures[0]!.error).toBeUndefined();
    const byId = new Map(report.results.map((r) => [r.id, r]));
    // The floor throws when it reads less than the file, so a row means it got every byte.
    const floorRow = byId.get('pty.attached_cat_throughput')!;
    expect(floorRow.baseline!.label).toMatch(/C reader of the kernel PTY|script -q/);
    expect(floorRow.baseline!.missedBytes).toBe(0);
    for (const id of ['pty.attached_cat_throughput', 'pty.attached_cat_throughput_vs_tmux_control']) {
      expect(typeof byId.get(id)!.missedBytes, `${id} missedBytes`).toBe('number');
      if (byId.get(id)!.missedBytes! > 0) expect(byId.get(id)!.met, `${id} lost bytes`).toBe(false);
    }
    for (const id of ['pty.attached_cat_throughput_vs_tmux_control', 'pty.detached_cat_throughput_vs_tmux_pane',
      'pty.spawn_to_exit.p50', 'pty.spawn_to_exit_vs_tmux_control.p50', 'pty.cli_run_vs_tmux_new_session.p50']) {
      const row = byId.get(id);
      expect(row, `row ${id}`).toBeDefined();
      expect(Number.isFinite(row!.value) && Number.isFinite(row!.baseline?.value), `${id} measured`).toBe(true);
    }
  });

  it('refuses an unknown figure name and an unknown flag, naming them', async () => {
    const unknownFigure = await runBench(['--only', 'nonesuch', '--out', '/nonexistent']);
    expect(unknownFigure.code).toBe(2);
    expect(unknownFigure.stderr).toMatch(/no figure named nonesuch \(have: core/);
    const unknownFlag = await runBench(['--fast']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('unknown flag "--fast"');
  });
});

describe('bench report helpers', () => {
  const row = (extra: Partial<BenchResult>): BenchResult => ({ id: 'x', label: 'x', value: 10, unit: 'ms', ...extra });

  it('parses ratio and absolute targets and fills `met` from them', () => {
    expect(parseTarget('<= 2x')).toEqual({ op: '<=', limit: 2, onRatio: true });
    expect(parseTarget('>= 0.8x')).toEqual({ op: '>=', limit: 0.8, onRatio: true });
    expect(parseTarget('<= 250 us')).toEqual({ op: '<=', limit: 250, onRatio: false });
    expect(parseTarget('linear')).toBeNull();
    expect(completeRow(row({ ratio: 1.5, target: '<= 2x' })).met).toBe(true);
    expect(completeRow(row({ ratio: 0.5, target: '>= 0.8x' })).met).toBe(false);
    expect(completeRow(row({ value: 300, target: '<= 250 us' })).met).toBe(false);
    expect(completeRow(row({ target: '<= 2x' })).met).toBeUndefined();
    expect(completeRow(row({ ratio: 9, target: '<= 2x', met: true })).met).toBe(true);
  });

  it('never meets a row whose reader, or whose floor, missed bytes', () => {
    expect(completeRow(row({ ratio: 0.9, target: '>= 0.8x', missedBytes: 0 })).met).toBe(true);
    expect(completeRow(row({ ratio: 0.9, target: '>= 0.8x', missedBytes: 1 })).met).toBe(false);
    expect(completeRow(row({ ratio: 0.5, target: '<= 2x', met: true, missedBytes: 7 })).met).toBe(false);
    const lossyFloor = { label: 'floor', value: 1, unit: 'MiB/s', missedBytes: 3 };
    expect(completeRow(row({ ratio: 0.9, target: '>= 0.8x', missedBytes: 0, baseline: lossyFloor })).met).toBe(false);
    expect(completeRow(row({ missedBytes: 5 })).met).toBeUndefined();
    expect(formatTable([row({ missedBytes: 220054256, target: '>= 0.5x', met: false })])).toMatch(/NO\s+220054256/);
  });

  it('counts the bytes of a tmux control-mode %output line (\\ooo escapes are one byte each)', () => {
    const line = Buffer.from('%output %3 a\\001b\\134c\xff', 'latin1');
    expect(controlOutputBytes(line, '%output %3 '.length)).toBe(6);
    expect(controlOutputBytes(Buffer.from('%output %3 ', 'latin1'), '%output %3 '.length)).toBe(0);
  });

  it('prints unmeasured rows with their note and writes NaN as null', () => {
    const missing = row({ id: 'peer', label: 'vs tmux', value: NaN, note: 'tmux not installed' });
    const table = formatTable([row({ ratio: 1.25, baseline: { label: 'floor', value: 8, unit: 'ms' }, target: '<= 2x', met: true }), missing]);
    expect(table).toMatch(/1\.25x\s+<= 2x\s+yes/);
    expect(table).toContain('    tmux not installed');
    const report: RunReport = {
      generatedAt: 'now', mode: 'smoke', node: 'v20', platform: 'linux', cpus: 2, loadAverage: [0], durationMs: 1,
      figures: [], results: [missing],
    };
    expect(JSON.parse(toJson(report)).results[0].value).toBeNull();
    expect(renderSvg(report)).toContain('no rows with a numeric target');
  });
});
