// The runpm V8 code cache (src/cli/compile-cache.ts): written at exit, used on the next start,
// and never used for a file that changed since, even when its length stayed the same.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, makeTempHome } from '../helpers/daemon';

const COMPILE_CACHE = path.join(ROOT, 'dist', 'src', 'cli', 'compile-cache.js');

let dir: string | null = null;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** Runs a script that installs the cache (kept under dir) and requires dir/answer.js. */
function runWithCache(home: string, env: NodeJS.ProcessEnv = {}): string {
  const driver = `require(${JSON.stringify(COMPILE_CACHE)}).installCompileCache(${JSON.stringify(home)});
process.stdout.write(String(require(${JSON.stringify(path.join(home, 'answer.js'))}).answer()));`;
  const result = spawnSync(process.execPath, ['-e', driver], { env: { ...process.env, ...env }, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return result.stdout;
}

function cacheFiles(home: string): string[] {
  const root = path.join(home, '.v8-cache');
  return fs.existsSync(root) ? fs.readdirSync(root).flatMap((v) => fs.readdirSync(path.join(root, v))) : [];
}

describe('runpm compile cache', () => {
  it('writes a cache at exit, reuses it, and ignores it once the file changed (same length)', () => {
    dir = makeTempHome('rp-cc-');
    const file = path.join(dir, 'answer.js');
    fs.writeFileSync(file, 'exports.answer = function () { return "one"; };\n');
    expect(runWithCache(dir)).toBe('one');
    const written = cacheFiles(dir);
    expect(written.filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    expect(written.some((f) => f.endsWith('.tmp'))).toBe(false);
    expect(runWithCache(dir)).toBe('one');

    fs.writeFileSync(file, 'exports.answer = function () { return "two"; };\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    expect(runWithCache(dir)).toBe('two');
  });

  it('caches module resolution and still resolves a module that moved', () => {
    dir = makeTempHome('rp-cc-');
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'dep.js'), 'exports.v = "first";\n');
    fs.writeFileSync(path.join(dir, 'answer.js'), 'exports.answer = () => require("./lib/dep").v;\n');
    expect(runWithCache(dir)).toBe('first');
    expect(cacheFiles(dir)).toContain('resolve.json');
    expect(runWithCache(dir)).toBe('first');
    // ./lib/dep now resolves to lib/dep/index.js: the cached lib/dep.js no longer exists, so it resolves again.
    fs.rmSync(path.join(dir, 'lib', 'dep.js'));
    fs.mkdirSync(path.join(dir, 'lib', 'dep'));
    fs.writeFileSync(path.join(dir, 'lib', 'dep', 'index.js'), 'exports.v = "second";\n');
    expect(runWithCache(dir)).toBe('second');
  });

  it('names cache files by a stable hash of the module path', () => {
    const { cacheNameOf } = require(COMPILE_CACHE) as typeof import('../../src/cli/compile-cache');
    expect(cacheNameOf('/a/b.js')).toBe(cacheNameOf('/a/b.js'));
    expect(cacheNameOf('/a/b.js')).not.toBe(cacheNameOf('/a/c.js'));
    expect(cacheNameOf('/a/b.js')).toMatch(/^[0-9a-f]{17,}$/);
  });

  it('is off with RUNPM_NO_COMPILE_CACHE=1', () => {
    dir = makeTempHome('rp-cc-');
    fs.writeFileSync(path.join(dir, 'answer.js'), 'exports.answer = () => 42;\n');
    expect(runWithCache(dir, { RUNPM_NO_COMPILE_CACHE: '1' })).toBe('42');
    expect(cacheFiles(dir)).toEqual([]);
  });
});
