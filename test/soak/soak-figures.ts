// Where soak tests leave their figures: one JSON file per run part in soak/results/.parts/,
// merged into soak/results/latest.json and the README by scripts/soak-report.mjs.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SOAK_PARTS_DIR = path.resolve(__dirname, '..', '..', 'soak', 'results', '.parts');

/** Writes one part's figures (overwrites the previous run's). */
export function writeSoakPart(name: string, figures: unknown): void {
  fs.mkdirSync(SOAK_PARTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(SOAK_PARTS_DIR, `${name}.json`), `${JSON.stringify({ at: new Date().toISOString(), ...figures as object }, null, 2)}\n`);
}

/** A size knob: the env var if set (e.g. to shorten a local run), else the full soak size. */
export function soakSize(envName: string, full: number): number {
  const v = Number(process.env[envName]);
  return Number.isInteger(v) && v > 0 ? v : full;
}

/** True when any of the size knobs is set: the figures are from a reduced run, and the report says so. */
export function isReducedSize(...envNames: string[]): boolean {
  return envNames.some((name) => process.env[name] !== undefined && process.env[name] !== '');
}
