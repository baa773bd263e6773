// connect(): finds the scope's socket, connects, and when no daemon answers (and autoStart is on)
// starts runpmd for that scope detached, then waits for it with backoff.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { resolveScopePaths, ensurePrivateDir, ScopePathError, type ScopePaths } from '../scope/paths';
import { openNoFollowSync } from '../files/no-follow';
import { checkTrustedDirectory, UnsafePathError } from '../files/trusted-path';
import { DaemonClient, DEFAULT_CALL_TIMEOUT_MS } from './daemon-client';

export interface ConnectOptions {
  /** Scope name (default: $RUNPM_SCOPE or "default"). */
  scope?: string;
  /** Keep everything of the scope under HOME/<scope>/ (default: $RUNPM_HOME). */
  home?: string;
  /** Socket path override. */
  socket?: string;
  /** Start runpmd for this scope if none answers (default true). */
  autoStart?: boolean;
  /** How long to wait for an auto-started daemon (default 3000 ms). */
  autoStartTimeoutMs?: number;
  /** Extra runpmd flags used when auto-starting. */
  daemonArgs?: string[];
  /** Default per-call timeout (default 30 s). */
  callTimeoutMs?: number;
  /** Sent as client_name; shows up in stolen_by and the daemon log. */
  clientName?: string;
}

/** Raised when no daemon answers and none could be started. */
export class DaemonNotRunningError extends Error {
  constructor(message: string, readonly paths: ScopePaths) {
    super(message);
    this.name = 'DaemonNotRunningError';
  }
}

const DEFAULT_AUTOSTART_TIMEOUT_MS = 3000;

/** Connects to the scope's daemon, starting it when allowed. */
export async function connect(opts: ConnectOptions = {}): Promise<DaemonClient> {
  const paths = resolveScopePaths({ scope: opts.scope, home: opts.home, socket: opts.socket });
  const clientName = opts.clientName ?? `${path.basename(process.argv[1] ?? 'node')} pid=${process.pid}`;
  const make = (socket: net.Socket) => new DaemonClient(socket, paths, clientName, opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  try {
    return make(await connectSocket(paths.socketPath));
  } catch (err) {
    if (!isNotListening(err)) throw err;
    if (opts.autoStart === false) {
      throw new DaemonNotRunningError(`runpmd is not running for scope '${paths.scope}' (no daemon on ${paths.socketPath})`, paths);
    }
  }
  // The child inherits RUNPM_HOME and the XDG variables; only an explicit home needs passing.
  const child = startDaemonProcess(paths, opts.daemonArgs ?? [], opts.home);
  let childExit: number | null = null;
  let childSignal: string | null = null;
  child.once('exit', (code, signal) => {
    childExit = code ?? 128;
    childSignal = signal;
  });
  const deadline = Date.now() + (opts.autoStartTimeoutMs ?? DEFAULT_AUTOSTART_TIMEOUT_MS);
  let delay = 10;
  for (;;) {
    try {
      return make(await connectSocket(paths.socketPath));
    } catch (err) {
      if (!isNotListening(err)) throw err;
    }
    // A daemon that exited non-zero will not come up (an exit 1 may be a racing peer that won).
    if ((childExit !== null && childExit !== 1) || Date.now() >= deadline) {
      const why = childSignal !== null ? `was killed by ${childSignal}` : childExit !== null ? `exited with code ${childExit}` : `did not start within ${opts.autoStartTimeoutMs ?? DEFAULT_AUTOSTART_TIMEOUT_MS} ms`;
      throw new DaemonNotRunningError(
        `runpmd for scope '${paths.scope}' ${why}; see its log at ${paths.daemonLogPath}${lastLogLine(paths)}`,
        paths,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** Path of the runpmd entry point in this checkout or install. */
export function runpmdEntry(): string {
  return binEntry('runpmd');
}

/**
 * bin/<name> of this checkout or install, found upwards from this module: dist/src/client (or the
 * CLI bundle in dist/src/cli) and src/client under vitest all lead to the package root.
 */
export function binEntry(name: string): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'bin', name))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`bin/${name} not found`);
    dir = parent;
  }
  return path.join(dir, 'bin', name);
}

/** Starts runpmd for the scope in its own session with stdio to its log; does not wait. */
export function startDaemonProcess(paths: ScopePaths, extraArgs: string[] = [], home?: string): ChildProcess {
  ensurePrivateDir(paths.stateDir);
  const logFd = openNoFollowSync(paths.daemonLogPath, 'append', { private: true });
  const args = [runpmdEntry(), '--scope', paths.scope, '--socket', paths.socketPath, ...(home ? ['--home', home] : []), ...extraArgs];
  // Required here, not at the top: the CLI's common path (daemon already up) never spawns.
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  child.unref();
  return child;
}

/**
 * Runs before any byte is sent (issue 22.1): the socket's directory must be ours and 0700 and the
 * socket ours, so a socket another user planted (a pre-created /tmp/runpm-<uid>) never gets a
 * request (which may carry secrets in env). A missing socket is fine (nothing listens: ENOENT).
 * N.B. no peer-uid check on the connection itself: Node cannot read SO_PEERCRED without a native
 * addon (see README, "Scopes, paths and security"); in a 0700 directory of ours nobody else can
 * put or swap a socket, so the owner of the socket file is who bound it. That holds only while
 * nobody else can swap the directory itself between this check and the connect: so every
 * directory above it must be out of other users' reach too (sticky like /tmp will do), and a
 * missing directory is "not running" without connecting at all (another user could create it, in
 * /tmp too, in the instant between the check and the connect: measured, 1 of 80 `runpm daemon
 * ping` reached a listener of uid 65534 renaming its directory in and out of a 0777 parent).
 * Returns false when there is no directory (nothing ours listens).
 */
export function verifySocketPath(socketPath: string): boolean {
  const dir = path.dirname(socketPath);
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
  if (uid >= 0) {
    try {
      checkTrustedDirectory(path.dirname(dir), { allowMissing: true });
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      throw new ScopePathError(`refusing to connect to ${socketPath}: ${err.message} (between a check and the connect, another user could put a directory of theirs at ${dir})`);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return false; // no directory: nothing of ours to connect to
  }
  if (!st.isDirectory()) throw new ScopePathError(`refusing to connect to ${socketPath}: ${dir} is not a directory`);
  if (uid >= 0 && st.uid !== uid) {
    throw new ScopePathError(`refusing to connect to ${socketPath}: its directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); another user may have planted it`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ScopePathError(`refusing to connect to ${socketPath}: its directory ${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} (expected 0700)`);
  }
  let sock: fs.Stats;
  try {
    sock = fs.lstatSync(socketPath);
  } catch {
    return true; // not there yet: only we can create it (a daemon starting), so connecting is safe
  }
  if (!sock.isSocket()) throw new ScopePathError(`refusing to connect to ${socketPath}: it is not a socket`);
  if (uid >= 0 && sock.uid !== uid) {
    throw new ScopePathError(`refusing to connect to ${socketPath}: the socket is owned by uid ${sock.uid}, not by this user (uid ${uid})`);
  }
  return true;
}

/** The error net.connect gives for a missing socket (the callers read "not running" from it). */
function notThere(socketPath: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ENOENT ${socketPath}`), { code: 'ENOENT', errno: -2, syscall: 'connect', address: socketPath });
}

function connectSocket(socketPath: string): Promise<net.Socket> {
  try {
    if (!verifySocketPath(socketPath)) return Promise.reject(notThere(socketPath));
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function isNotListening(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

function lastLogLine(paths: ScopePaths): string {
  try {
    const text = fs.readFileSync(paths.daemonLogPath, 'utf8').trimEnd();
    const last = text.slice(text.lastIndexOf('\n') + 1);
    return last ? ` (last line: ${last})` : '';
  } catch {
    return '';
  }
}
