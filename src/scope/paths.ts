// Where a scope's socket and state live, and the checks that keep them private.
// Computed once per process from flags and the environment; nothing here is cached on disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkTrustedDirectory, UnsafePathError } from '../files/trusted-path';

export const DEFAULT_SCOPE = 'default';
const SCOPE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** sun_path is 108 bytes on Linux including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

export interface ScopeOptions {
  scope?: string;
  home?: string;
  socket?: string;
}

export interface ScopePaths {
  scope: string;
  /** Directory holding the socket (0700, ours). */
  socketDir: string;
  socketPath: string;
  /** Pid lock beside the socket: one live daemon per scope. */
  lockPath: string;
  /** Per-scope state: registry, logs, daemon.log, snapshots. */
  stateDir: string;
  dbPath: string;
  logsDir: string;
  daemonLogPath: string;
  scopeHash: string;
}

/** Thrown for bad scope names, paths too long, or directories we must not trust. */
export class ScopePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopePathError';
  }
}

/** Checks a scope name; throws naming the bad value. */
export function validateScope(scope: string): string {
  if (!SCOPE_PATTERN.test(scope)) {
    throw new ScopePathError(`invalid scope ${JSON.stringify(scope)}: expected 1-64 characters of [A-Za-z0-9._-]`);
  }
  return scope;
}

/** Resolves every path of a scope from options, RUNPM_HOME and the XDG variables. Pure. */
export function resolveScopePaths(opts: ScopeOptions = {}, env: NodeJS.ProcessEnv = process.env): ScopePaths {
  const scope = validateScope(opts.scope ?? env.RUNPM_SCOPE ?? DEFAULT_SCOPE);
  const home = opts.home ?? env.RUNPM_HOME;
  let stateDir: string;
  let socketPath: string;
  if (home) {
    stateDir = path.resolve(home, scope);
    socketPath = path.join(stateDir, 'daemon.sock');
  } else {
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    const runtime = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'runpm') : path.join(os.tmpdir(), `runpm-${uid}`);
    socketPath = path.join(runtime, `${scope}.sock`);
    const stateBase = env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
    stateDir = path.join(stateBase, 'runpm', scope);
  }
  if (opts.socket) socketPath = path.resolve(opts.socket);
  let hash: string | undefined;
  return {
    scope,
    socketDir: path.dirname(socketPath),
    socketPath,
    lockPath: `${socketPath}.pid`,
    stateDir,
    dbPath: path.join(stateDir, 'registry.sqlite3'),
    logsDir: path.join(stateDir, 'logs'),
    daemonLogPath: path.join(stateDir, 'daemon.log'),
    // A getter: node:crypto is loaded only by who reads it (the daemon), not by every CLI start;
    // computed once (each session spawn reads it).
    get scopeHash(): string {
      if (hash === undefined) {
        const { createHash } = require('node:crypto') as typeof import('node:crypto');
        hash = createHash('sha256').update(`${scope}\0${stateDir}`).digest('hex').slice(0, 16);
      }
      return hash;
    },
  };
}

/** Throws when the socket path does not fit in sockaddr_un. */
export function checkSocketPathLength(socketPath: string): void {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ScopePathError(
      `socket path ${socketPath} is ${bytes} bytes; the OS limit for a unix socket path is ${MAX_SOCKET_PATH_BYTES} bytes (use --socket or a shorter RUNPM_HOME)`,
    );
  }
}

/**
 * Creates dir (0700) if missing; otherwise refuses it unless it is a directory owned by us and
 * not reachable by group or others. Runs on every daemon start (not only when it creates dir),
 * and checks the directories above it too: one another user could write to (a non-sticky 0777
 * parent, a parent of theirs) would let them rename dir and put their own in its place.
 * Throws ScopePathError saying why.
 */
export function ensurePrivateDir(dir: string): void {
  try {
    checkTrustedDirectory(path.dirname(path.resolve(dir)), { allowMissing: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Again once created: a missing parent made meanwhile by someone else is caught here.
    checkTrustedDirectory(path.dirname(path.resolve(dir)));
  } catch (err) {
    if (err instanceof UnsafePathError) throw new ScopePathError(`refusing ${dir}: ${err.message}`);
    throw err;
  }
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) throw new ScopePathError(`refusing ${dir}: it is a symbolic link, not a directory`);
  if (!st.isDirectory()) throw new ScopePathError(`refusing ${dir}: it is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.uid !== uid) {
    throw new ScopePathError(`refusing ${dir}: it is owned by uid ${st.uid}, not by this user (uid ${uid})`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ScopePathError(
      `refusing ${dir}: its mode is ${(st.mode & 0o777).toString(8).padStart(4, '0')}, group or others have access (expected 0700)`,
    );
  }
}
