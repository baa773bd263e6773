// Build: generate protobufjs static code (+ .d.ts) from proto/daemon.proto, compile TypeScript
// to dist/, and copy the generated JavaScript next to its compiled importers.
// Runs from `npm install` (prepare), `npm test` and `npm run bench`; skips steps that are up to date.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeProtobufTypesLazy } from './lazy-protobuf-types.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const proto = join(root, 'proto', 'daemon.proto');
const genJs = join(root, 'src', 'gen', 'daemon.js');
const genDts = join(root, 'src', 'gen', 'daemon.d.ts');
// The same code without JSDoc (about 40% smaller): what dist/ runs, so every runpm start reads less.
const genRuntimeJs = join(root, 'src', 'gen', 'daemon.runtime.js');
// The daemon's copy: no JSON/object conversion (fromObject, toObject, toJSON) nor type URLs, which
// only clients use (a 40% smaller module, about 0.6 MB less idle daemon RSS). src/bin/runpmd.ts
// loads it in place of daemon.js (src/wire/daemon-proto.ts).
const genDaemonJs = join(root, 'src', 'gen', 'daemon.daemon.js');
// The generated code requires protobufjs's one-file build of its minimal runtime: one module to
// load at every runpm start instead of a dozen (src/wire/protobuf-config.ts configures the same one).
const PBJS_RUNTIME = 'protobufjs/dist/minimal/protobuf.js';
const PBJS_FLAGS = ['-t', 'static-module', '-w', 'commonjs', '--dependency', PBJS_RUNTIME, '--force-number', '--no-verify', '--no-delimited'];

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

/** True when output is missing or older than input or than this script (whose flags shape it). */
function isStale(output, input) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return built < statSync(input).mtimeMs || built < statSync(fileURLToPath(import.meta.url)).mtimeMs;
}

mkdirSync(dirname(genJs), { recursive: true });
if (isStale(genJs, proto) || isStale(genDts, proto)) {
  // Static code (not reflection): faster encode/decode on the hot path, typed through pbts.
  run(bin('pbjs'), [...PBJS_FLAGS, '-o', genJs, proto]);
  run(bin('pbts'), ['-o', genDts, genJs]);
}
if (isStale(genRuntimeJs, proto)) run(bin('pbjs'), [...PBJS_FLAGS, '--no-comments', '-o', genRuntimeJs, proto]);
if (isStale(genDaemonJs, proto)) run(bin('pbjs'), [...PBJS_FLAGS, '--no-comments', '--no-convert', '--no-typeurl', '-o', genDaemonJs, proto]);
run(bin('tsc'), ['-p', join(root, 'tsconfig.json')]);
mkdirSync(join(root, 'dist', 'src', 'gen'), { recursive: true });
// dist/ runs the lazy form: each message type is built when first read (scripts/lazy-protobuf-types.mjs).
writeFileSync(join(root, 'dist', 'src', 'gen', 'daemon.js'), makeProtobufTypesLazy(readFileSync(genRuntimeJs, 'utf8')));
writeFileSync(join(root, 'dist', 'src', 'gen', 'daemon-lean.js'), makeProtobufTypesLazy(readFileSync(genDaemonJs, 'utf8')));
copyFileSync(genDts, join(root, 'dist', 'src', 'gen', 'daemon.d.ts'));

// The CLI as one file (what src/bin/runpm.ts loads): a `runpm list` loaded ~40 modules, and resolving,
// reading and compiling each one cost more than the work itself (85 → 76 ms wall in a measured A/B).
// Native modules stay outside, and so do the YAML and TOML parsers (190 KB that only an ecosystem file
// of that kind loads), like anything the CLI requires by a computed path (JS ecosystem files).
// Whitespace-only minification: smaller to read and pre-parse, names kept for stack traces.
const { buildSync } = await import('esbuild');
buildSync({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile: join(root, 'dist', 'src', 'cli', 'runpm-bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['node-pty', 'better-sqlite3', 'yaml', 'smol-toml'],
  minifyWhitespace: true,
  logLevel: 'warning',
});
