// Entry point of runpm. The V8 code cache goes in first so every later module load uses it;
// everything else is required after it (a static import would be hoisted above it).
// The CLI runs from its one-file bundle (scripts/build.mjs) when the build made one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installCompileCache } from '../cli/compile-cache';

installCompileCache(path.join(__dirname, '..', '..'));
const bundle = path.join(__dirname, '..', 'cli', 'runpm-bundle.js');
const { runCli } = (fs.existsSync(bundle) ? require(bundle) : require('../cli/main')) as typeof import('../cli/main');

runCli(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`runpm: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
