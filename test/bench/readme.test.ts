// The README's benchmark table must be the one bench/readme.ts renders from the committed
// bench/results/latest.json: a figure in the README can always be traced to the run that measured it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon';
import { renderBenchSection, withBenchSection, readReport } from '../../bench/readme';
import type { RunReport } from '../../bench/report';

const LATEST = path.join(ROOT, 'bench', 'results', 'latest.json');

describe('README benchmark table', () => {
  it('is generated from bench/results/latest.json, a run of every figure', () => {
    const report = readReport(LATEST);
    const figures = fs.readdirSync(path.join(ROOT, 'bench', 'figures')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    expect(report.figures.map((f) => f.name).sort()).toEqual(figures.sort());
    expect(fs.existsSync(path.join(ROOT, 'bench', 'results', 'latest.svg'))).toBe(true);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(withBenchSection(readme, report), 'README.md differs from latest.json: run `node dist/bench/readme.js`').toBe(readme);
  });

  it('replaces only its own block and says what kind of run it came from', () => {
    const report: RunReport = {
      generatedAt: '2026-12-03T10:00:00.000Z', mode: 'quick', node: 'v20', platform: 'linux x64', cpus: 2, loadAverage: [1, 2, 3],
      durationMs: 61_000, figures: [{ name: 'core', durationMs: 1 }],
      results: [{ id: 'a', label: 'row a', value: 2, unit: 'ms', target: '<= 1 ms', met: false }],
    };
    const out = withBenchSection('before\n<!-- bench:start -->\nold\n<!-- bench:end -->\nafter\n', report);
    expect(out.startsWith('before\n<!-- bench:start -->\nFrom a `--quick` run')).toBe(true);
    expect(out.endsWith('targets met: 0, missed: 1.\n<!-- bench:end -->\nafter\n')).toBe(true);
    expect(out).toContain('row a');
    expect(renderBenchSection(report)).not.toContain('old');
    expect(() => withBenchSection('no markers', report)).toThrow(/no <!-- bench:start -->/);
  });
});
