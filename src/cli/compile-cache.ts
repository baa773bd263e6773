// V8 code cache for the runpm CLI (Node 20 has no module.enableCompileCache): every CommonJS module
// the CLI loads is compiled with the bytecode V8 produced for it on an earlier run, which cuts
// start-up (most of it is compiling commander, protobufjs and the generated protobuf code). Caches
// live in dist/.v8-cache/<node version>-<arch>/, one file per module, written at exit by the first
// run that lacked them; a cache is used only while the module's size and mtime still match.
// Module resolution (stat walks through node_modules, package.json reads) is cached there too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import Module = require('node:module');

/** Header before the V8 data: the source file's mtimeMs and size, as two float64s. */
const HEADER_BYTES = 16;

interface PendingWrite {
  script: vm.Script;
  cacheFile: string;
  header: Buffer;
}

interface InternalModule {
  exports: unknown;
  require(id: string): unknown;
}

type ModuleStatics = typeof Module & {
  wrap(source: string): string;
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  _cache: unknown;
  _extensions: unknown;
  prototype: { _compile(content: string, filename: string): unknown };
};

/**
 * Installs the cache for every module compiled from now on. Does nothing under a debugger
 * (Node's own compile handles breakpoints-on-start) or with RUNPM_NO_COMPILE_CACHE=1.
 */
export function installCompileCache(distDir: string): void {
  if (process.env.RUNPM_NO_COMPILE_CACHE === '1' || process.execArgv.some((a) => a.startsWith('--inspect'))) return;
  const M = Module as ModuleStatics;
  const cacheDir = path.join(distDir, '.v8-cache', `${process.version}-${process.arch}`);
  const pending: PendingWrite[] = [];
  const originalCompile = M.prototype._compile;

  M.prototype._compile = function compileWithCache(this: InternalModule, content: string, filename: string): unknown {
    let header: Buffer;
    try {
      const st = fs.statSync(filename);
      header = Buffer.alloc(HEADER_BYTES);
      header.writeDoubleLE(st.mtimeMs, 0);
      header.writeDoubleLE(st.size, 8);
    } catch {
      return originalCompile.call(this, content, filename);
    }
    const cacheFile = path.join(cacheDir, `${cacheNameOf(filename)}.bin`);
    let cachedData: Buffer | undefined;
    try {
      const stored = fs.readFileSync(cacheFile);
      // V8 itself only checks the source length: a rebuilt file of equal length must not match.
      if (stored.length > HEADER_BYTES && stored.subarray(0, HEADER_BYTES).equals(header)) cachedData = stored.subarray(HEADER_BYTES);
    } catch {
      // No cache yet: compile normally and write one at exit.
    }
    const script = new vm.Script(M.wrap(content), { filename, cachedData });
    if (!cachedData || script.cachedDataRejected) pending.push({ script, cacheFile, header });
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, makeRequire(M, this), this, filename, path.dirname(filename));
  };

  const resolutions = installResolveCache(M, path.join(cacheDir, RESOLVE_CACHE_FILE));

  // At exit the scripts hold the bytecode of everything that ran, lazily compiled functions included.
  process.once('exit', () => {
    if (pending.length === 0 && !resolutions.dirty) return;
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      if (resolutions.dirty) writeAtomically(path.join(cacheDir, RESOLVE_CACHE_FILE), JSON.stringify(resolutions.map));
      for (const { script, cacheFile, header } of pending) {
        writeAtomically(cacheFile, Buffer.concat([header, script.createCachedData()]));
      }
    } catch {
      // Read-only install or full disk: run uncached, as before.
    }
  });
}

/** Name of the resolution cache file in the cache directory. */
const RESOLVE_CACHE_FILE = 'resolve.json';

/** Writes via a temporary file and a rename: a concurrent runpm reads the old file or the new one. */
function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Caches Module._resolveFilename for plain requires from a module file: "<dir of the requiring
 * file>\0<request>" → the file it resolved to. A hit is used only while that file still exists (one
 * stat instead of Node's walk through node_modules); builtins and requires with options are not cached.
 */
function installResolveCache(M: ModuleStatics, file: string): { map: Record<string, string>; dirty: boolean } {
  const state = { map: {} as Record<string, string>, dirty: false };
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object') state.map = parsed as Record<string, string>;
  } catch {
    // No cache yet (or a torn one): resolve normally and write one at exit.
  }
  const originalResolve = M._resolveFilename;
  M._resolveFilename = function resolveWithCache(request: string, parent: unknown, isMain: boolean, options?: unknown): string {
    const from = (parent as { filename?: unknown } | null)?.filename;
    if (options !== undefined || isMain || typeof from !== 'string' || request.startsWith('node:') || M.isBuiltin(request)) {
      return originalResolve.call(this, request, parent, isMain, options);
    }
    const key = `${path.dirname(from)}\0${request}`;
    const hit = state.map[key];
    if (hit !== undefined && fs.existsSync(hit)) return hit;
    const resolved = originalResolve.call(this, request, parent, isMain, options);
    state.map[key] = resolved;
    state.dirty = true;
    return resolved;
  };
  return state;
}

/** The `require` Node hands a module (what its internal makeRequireFunction builds). */
function makeRequire(M: ModuleStatics, mod: InternalModule): NodeJS.Require {
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  req.resolve = ((request: string, options?: { paths?: string[] }) => M._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  req.main = require.main;
  req.cache = M._cache as NodeJS.Require['cache'];
  req.extensions = M._extensions as NodeJS.Require['extensions'];
  return req;
}

/**
 * The cache file's name for a module path: two 32-bit FNV-1a hashes (different seeds) in hex.
 * Plain arithmetic, so the CLI does not load node:crypto (and the streams it pulls in) to start.
 */
export function cacheNameOf(filename: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ filename.length;
  for (let i = 0; i < filename.length; i++) {
    const c = filename.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x0100019d) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0') + filename.length.toString(16);
}
