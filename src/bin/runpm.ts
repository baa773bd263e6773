// Entry point of runpm. The V8 code cache goes in first so every later module load uses it;
// everything else is required after it (a static import would be hoisted above it).
// The CLI runs from its one-file bundle (scripts/build.mjs) when the build made one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installCompileCache } from '../cli/compile-cache';

const BUNDLE = path.join(__dirname, '..', 'cli', 'runpm-bundle.js');

/** The bundle exists and is not older than the modules it was made from (a tsc-only rebuild leaves it behind). */
function bundleIsCurrent(): boolean {
  const bundle = fs.statSync(BUNDLE, { throwIfNoEntry: false });
  const main = fs.statSync(path.join(__dirname, '..', 'cli', 'main.js'), { throwIfNoEntry: false });
  return bundle !== undefined && (main === undefined || bundle.mtimeMs >= main.mtimeMs);
}

installCompileCache(path.join(__dirname, '..', '..'));
const { runCli } = (bundleIsCurrent() ? require(BUNDLE) : require('../cli/main')) as typeof import('../cli/main');

runCli(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`runpm: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
