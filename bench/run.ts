// `npm run bench`: finds the figure modules compiled into dist/bench/figures/, runs them in a fixed
// order and prints one table. A run of every figure writes bench/results/latest.json and latest.svg
// (both committed) and regenerates the README's table from them (bench/readme.ts); a run of some
// figures (--only) writes partial.json and partial.svg there instead (git-ignored), so a quick look at
// one family never replaces the figures the README quotes. One process per run; every daemon and
// scratch file of the run lives under a temporary work directory removed at the end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchFigure, BenchResult } from './harness';
import { REPO_ROOT } from './bench-daemon';
import { completeRow, formatTable, renderSvg, toJson, type RunReport } from './report';
import { updateReadme } from './readme';

/** Figures run in this order; any other figure module follows, alphabetically. */
const FIGURE_ORDER = ['core', 'pipe-sessions', 'pty-sessions', 'tee', 'services', 'scale'];
const USAGE = `usage: npm run bench -- [--quick | --smoke] [--only NAME[,NAME...]] [--out DIR]
  --quick       fewer iterations: the whole run takes under a minute
  --smoke       tiniest counts (the harness's own test); implies --only core unless --only is given
  --only NAMES  run only these figures (repeatable or comma-separated)
  --out DIR     write latest.json and latest.svg to DIR and leave README.md alone
                (default: bench/results/latest.* and the README's table after a run of every
                figure, bench/results/partial.* after --only)`;

interface RunArgs {
  mode: 'full' | 'quick' | 'smoke';
  only: string[];
  /** --out DIR, or null for bench/results (and the README). */
  outDir: string | null;
}

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/** Parses the runner's flags; throws naming an unknown flag or a missing value. */
export function parseArgs(argv: string[]): RunArgs | null {
  const args: RunArgs = { mode: 'full', only: [], outDir: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.mode = args.mode === 'smoke' ? 'smoke' : 'quick';
    else if (a === '--smoke') args.mode = 'smoke';
    else if (a === '--only') args.only.push(...value().split(',').filter(Boolean));
    else if (a === '--out') args.outDir = path.resolve(value());
    else if (a === '--help' || a === '-h') return null;
    else throw new Error(`unknown flag ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (args.mode === 'smoke' && args.only.length === 0) args.only = ['core'];
  return args;
}

/** Loads every figures/*.js next to this file, in run order. */
export function discoverFigures(dir = path.join(__dirname, 'figures')): BenchFigure[] {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.js')) : [];
  const figures = files.map((file): BenchFigure => {
    const name = file.replace(/\.js$/, '');
    let mod: { figure?: BenchFigure };
    try {
      mod = require(path.join(dir, file)) as { figure?: BenchFigure };
    } catch (err) {
      // A module that cannot even load (a missing native peer, say) reports as a failed figure.
      return { name, run: () => Promise.reject(err) };
    }
    if (!mod.figure || typeof mod.figure.run !== 'function') {
      return { name, run: () => Promise.reject(new Error(`bench/figures/${name}.ts does not export \`figure: BenchFigure\``)) };
    }
    return mod.figure;
  });
  const rank = (name: string) => (FIGURE_ORDER.includes(name) ? FIGURE_ORDER.indexOf(name) : FIGURE_ORDER.length);
  return figures.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** Runs the selected figures and writes the report; resolves with the process exit code. */
export async function runBench(argv: string[]): Promise<number> {
  let args: RunArgs | null;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const all = discoverFigures();
  const unknown = args.only.filter((n) => !all.some((f) => f.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: no figure named ${unknown.join(', ')} (have: ${all.map((f) => f.name).join(', ')})\n`);
    return 2;
  }
  const selected = args.only.length > 0 ? all.filter((f) => args.only.includes(f.name)) : all;
  const started = Date.now();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpb-'));
  const report: RunReport = {
    generatedAt: new Date().toISOString(), mode: args.mode, node: process.version, platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length, loadAverage: os.loadavg(), durationMs: 0, figures: [], results: [],
  };
  process.stdout.write(`running-process bench (${args.mode}): ${selected.map((f) => f.name).join(', ')}\n`);
  try {
    for (const fig of selected) {
      const figStarted = Date.now();
      const workDir = fs.mkdtempSync(path.join(runDir, `${fig.name.slice(0, 8)}-`));
      let rows: BenchResult[];
      let error: string | undefined;
      try {
        rows = (await fig.run({ quick: args.mode !== 'full', smoke: args.mode === 'smoke', workDir })).map(completeRow);
      } catch (err) {
        error = err instanceof Error ? err.stack ?? err.message : String(err);
        rows = [{ id: `${fig.name}.error`, label: `${fig.name}: figure failed`, value: NaN, unit: '', note: (err as Error).message }];
      } finally {
        fs.rmSync(workDir, { recursive: true, force: true });
      }
      const durationMs = Date.now() - figStarted;
      report.figures.push({ name: fig.name, durationMs, ...(error ? { error } : {}) });
      report.results.push(...rows);
      process.stdout.write(`\n[${fig.name}] ${(durationMs / 1000).toFixed(1)} s${error ? ` FAILED: ${error}` : ''}\n${formatTable(rows)}\n`);
    }
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  report.durationMs = Date.now() - started;
  const written = writeReport(report, args, selected.length === all.length);
  const missed = report.results.filter((r) => r.met === false).length;
  const met = report.results.filter((r) => r.met === true).length;
  process.stdout.write(`\n== all figures (${(report.durationMs / 1000).toFixed(1)} s) ==\n${formatTable(report.results)}\n`
    + `\ntargets met: ${met}, missed: ${missed}; wrote ${written}\n`);
  return report.figures.some((f) => f.error) ? 1 : 0;
}

/** Writes the report where RunArgs say (see the file's header); returns what it wrote, for the log. */
function writeReport(report: RunReport, args: RunArgs, everyFigure: boolean): string {
  const dir = args.outDir ?? RESULTS_DIR;
  const base = args.outDir !== null || everyFigure ? 'latest' : 'partial';
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${base}.json`), toJson(report));
  fs.writeFileSync(path.join(dir, `${base}.svg`), renderSvg(report));
  const files = `${path.join(dir, base)}.json and ${base}.svg`;
  if (args.outDir !== null || !everyFigure) return files;
  // Regenerated from the file just written, as `node dist/bench/readme.js` would.
  updateReadme(JSON.parse(toJson(report)) as RunReport);
  return `${files}, and README.md's benchmark table`;
}

if (require.main === module) {
  runBench(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
