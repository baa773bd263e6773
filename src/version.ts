// The package version, read once from package.json (found by walking up from this file, so it
// works from src/ under vitest and from dist/src/ when built).
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | null = null;

/** Root of the running-process checkout or install. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'running-process') return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json of running-process not found above ${__dirname}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  if (cached === null) {
    cached = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  }
  return cached;
}
