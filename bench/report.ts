// Turns a run's rows into the printed table, bench/results/latest.json and the latest.svg chart.
// Pure formatting: the runner decides where files go; nothing here keeps state.
import type { BenchResult } from './harness';

export interface RunReport {
  generatedAt: string;
  mode: 'full' | 'quick' | 'smoke';
  node: string;
  platform: string;
  cpus: number;
  loadAverage: number[];
  durationMs: number;
  figures: Array<{ name: string; durationMs: number; error?: string }>;
  results: BenchResult[];
}

interface ParsedTarget {
  op: '<=' | '>=';
  limit: number;
  /** True when the target bounds the ratio ("<= 2x"), false when it bounds the value ("<= 250 us"). */
  onRatio: boolean;
}

/** Reads "<= 2x", ">= 0.8x", "<= 250 us" into a comparison; null for free text. */
export function parseTarget(target: string | undefined): ParsedTarget | null {
  const m = target ? /^\s*(<=|>=|≤|≥)\s*([0-9.]+)\s*(x|×)?/.exec(target) : null;
  if (!m) return null;
  return { op: m[1] === '>=' || m[1] === '≥' ? '>=' : '<=', limit: Number(m[2]), onRatio: Boolean(m[3]) };
}

/**
 * Fills `met` from a parsable target when the figure left it unset; a row with a target whose
 * readers (or whose floor's reader) missed bytes is not met, whatever its speed: a lossy reader is
 * not a fast one, and a lossy floor proves nothing.
 */
export function completeRow(row: BenchResult): BenchResult {
  const lost = (row.missedBytes ?? 0) + (row.baseline?.missedBytes ?? 0);
  if (row.target !== undefined && lost > 0) return { ...row, met: false };
  if (row.met !== undefined) return row;
  const t = parseTarget(row.target);
  const measured = t?.onRatio ? row.ratio : row.value;
  if (!t || measured === undefined || !Number.isFinite(measured)) return row;
  return { ...row, met: t.op === '<=' ? measured <= t.limit : measured >= t.limit };
}

/** A number for the table: three significant digits or so, a dash when not measured. */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** The report as an aligned text table (one row per result, notes indented beneath). */
export function formatTable(rows: BenchResult[]): string {
  const header = ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'met', 'missed B', 'spread (min..max, runs)'];
  const cells = rows.map((r) => [
    r.label,
    formatNumber(r.value),
    r.unit,
    r.baseline ? `${formatNumber(r.baseline.value)} ${r.baseline.unit} (${r.baseline.label})` : '-',
    r.ratio === undefined ? '-' : `${formatNumber(r.ratio)}x`,
    r.target ?? '-',
    r.met === undefined ? '-' : r.met ? 'yes' : 'NO',
    r.missedBytes === undefined ? '-' : String(r.missedBytes),
    r.spread ? `${formatNumber(r.spread.min)}..${formatNumber(r.spread.max)} (${r.spread.runs})` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 1 || i === 4 || i === 7 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    out.push(line(cells[i]));
    if (r.note) out.push(`    ${r.note}`);
  });
  return out.join('\n');
}

/** JSON for latest.json: NaN and Infinity become null so the file stays valid JSON. */
export function toJson(report: RunReport): string {
  return `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A bar chart of every row with a numeric target: one bar per row on its own scale, the measured
 * ratio (or value, for absolute targets) against a dashed line at the target; green met, red missed.
 */
export function renderSvg(report: RunReport): string {
  const rows = report.results.flatMap((r) => {
    const t = parseTarget(r.target);
    const measured = t?.onRatio ? r.ratio : r.value;
    return t && measured !== undefined && Number.isFinite(measured) ? [{ r, t, measured }] : [];
  });
  const labelW = 360;
  const barW = 380;
  const textW = 200;
  const rowH = 30;
  const top = 50;
  const width = labelW + barW + textW;
  const height = top + rows.length * rowH + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">running-process benchmark (${report.mode}) — measured vs target</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(`${report.generatedAt}, node ${report.node}, ${report.cpus} cpus; dashed line = target; ratios are vs the baseline measured in the same run`)}</text>`,
  ];
  rows.forEach(({ r, t, measured }, i) => {
    const y = top + i * rowH;
    const scale = Math.max(measured, t.limit) * 1.25;
    const w = Math.max(1, (measured / scale) * barW);
    const tx = labelW + (t.limit / scale) * barW;
    const color = r.met === false ? '#d9534f' : r.met ? '#5cb85c' : '#999';
    const unit = t.onRatio ? 'x' : ` ${r.unit}`;
    parts.push(
      `<text x="10" y="${y + 19}">${escapeXml(r.label)}</text>`,
      `<rect x="${labelW}" y="${y + 6}" width="${w.toFixed(1)}" height="${rowH - 12}" fill="${color}"/>`,
      `<line x1="${tx.toFixed(1)}" y1="${y + 2}" x2="${tx.toFixed(1)}" y2="${y + rowH - 2}" stroke="#000" stroke-dasharray="4,3"/>`,
      `<text x="${labelW + barW + 10}" y="${y + 19}">${escapeXml(`${formatNumber(measured)}${unit} (target ${t.op} ${t.limit}${unit})`)}</text>`,
    );
  });
  if (rows.length === 0) parts.push(`<text x="10" y="${top + 19}">no rows with a numeric target</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
