// Entry point of runpm. The V8 code cache goes in first so every later module load uses it;
// everything else is required after it (a static import would be hoisted above it).
import * as path from 'node:path';
import { installCompileCache } from '../cli/compile-cache';

installCompileCache(path.join(__dirname, '..', '..'));
const { runCli } = require('../cli/main') as typeof import('../cli/main');

runCli(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`runpm: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
