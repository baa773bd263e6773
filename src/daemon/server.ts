// The listening socket: single-instance lock, stale-socket replacement, 0600 permissions,
// connection limit, and orderly shutdown. One DaemonServer per daemon process.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { encodeFrame } from '../wire/frame';
import { encodeResponse, errorResponse } from '../wire/envelope';
import { RequestType, StatusCode } from '../wire/proto';
import { Connection, type ConnectionHooks } from './connection';
import { PartialFrameBudget } from './partial-frames';
import type { DispatchEntry } from './dispatch';
import type { DaemonState } from './state';
import { describeFdUse, fdsExhausted, FD_RESERVE } from './fd-budget';

/** Raised when another live daemon owns the scope. */
export class AlreadyRunningError extends Error {
  constructor(readonly pid: number | null, socketPath: string) {
    super(`already running (pid ${pid ?? 'unknown'}) on ${socketPath}`);
    this.name = 'AlreadyRunningError';
  }
}

export class DaemonServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  /** Connections that sent a complete frame: these count against maxConnections. */
  private readonly authenticated = new Set<Connection>();
  /** Connections that did not yet, oldest first. */
  private readonly unauthenticated = new Set<Connection>();
  private nextConnectionId = 1;
  private ownsSocket = false;

  private readonly hooks: ConnectionHooks;

  constructor(private readonly state: DaemonState, private readonly table: Map<RequestType, DispatchEntry>) {
    this.hooks = {
      partialFrames: new PartialFrameBudget(state.config.partialFrameBudgetBytes),
      onFirstFrame: (conn) => this.onFirstFrame(conn),
      onClosed: (conn) => this.onClosed(conn),
    };
  }

  /** Binds the socket after making sure no live daemon holds it; replaces a stale one. */
  async listen(): Promise<void> {
    const { socketPath } = this.state.config.paths;
    if (fs.existsSync(socketPath)) {
      // Like shpool: delete a leftover socket only after a connect to it is refused.
      if (await isSocketLive(socketPath)) throw new AlreadyRunningError(readLockPid(this.state.config.paths.lockPath), socketPath);
      this.state.log.info(`removing stale socket ${socketPath}`);
      fs.unlinkSync(socketPath);
    }
    const server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
    this.server = server;
    const oldUmask = process.umask(0o177); // the socket is born 0600, no window where it is wider
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldUmask);
    }
    fs.chmodSync(socketPath, 0o600);
    this.ownsSocket = true;
    server.on('error', (err) => this.state.log.error(`server error: ${err.message}`));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Accepts a connection unless the daemon is at its limit of authenticated connections (those
   * that sent a complete frame) or out of fds. Connections that sent no complete frame yet do not
   * count against the limit; at most maxConnections of them are kept, the oldest let go first, so
   * half-open or silent connections can never lock a real client out (a real client's first frame
   * comes within a round trip; the frame deadline closes the ones holding half a frame).
   */
  private accept(socket: net.Socket): void {
    const limit = this.state.config.maxConnections;
    if (this.state.shuttingDown || this.authenticated.size >= limit) {
      const message = this.state.shuttingDown
        ? 'daemon is shutting down'
        : `too many connections: the limit is ${limit}`;
      refuse(socket, StatusCode.STATUS_CODE_UNAVAILABLE, message);
      return;
    }
    // The descriptor this socket took came out of the reserve: answer, then give it back.
    if (fdsExhausted(0)) {
      this.state.log.warn(`refusing a connection: too many open files (${describeFdUse()})`);
      refuse(socket, StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED,
        `too many open files (EMFILE): ${describeFdUse()}; the daemon keeps ${FD_RESERVE} in reserve to say so, and takes no new connection until some are closed`);
      return;
    }
    const conn = new Connection(this.nextConnectionId++, socket, this.state, this.table, this.hooks);
    this.connections.add(conn);
    this.unauthenticated.add(conn);
    this.state.activeConnections = this.connections.size;
    if (this.unauthenticated.size > limit) {
      const oldest = this.unauthenticated.values().next().value as Connection;
      this.unauthenticated.delete(oldest);
      this.state.log.debug(`connection #${oldest.id}: closed, ${limit} connections without a complete frame are waiting (the oldest goes)`);
      oldest.destroy();
    }
  }

  /** A connection's first complete frame: it counts against the limit from now on, or is refused. */
  private onFirstFrame(conn: Connection): string | null {
    this.unauthenticated.delete(conn);
    const limit = this.state.config.maxConnections;
    if (this.authenticated.size >= limit) return `too many connections: the limit is ${limit}`;
    this.authenticated.add(conn);
    return null;
  }

  private onClosed(conn: Connection): void {
    this.connections.delete(conn);
    this.unauthenticated.delete(conn);
    this.authenticated.delete(conn);
    this.state.activeConnections = this.connections.size;
  }

  /** Bytes all connections hold in incomplete frames now. */
  get partialFrameBytes(): number {
    return this.hooks.partialFrames.totalBytes;
  }

  /** Stops accepting and removes the socket if it is still ours; open connections carry on. */
  stopListening(): void {
    const server = this.server;
    this.server = null;
    server?.close();
    if (this.ownsSocket) {
      this.ownsSocket = false;
      try {
        fs.unlinkSync(this.state.config.paths.socketPath);
      } catch {
        // Already gone.
      }
    }
  }

  /** Closes every open connection at once (last step of shutdown). */
  dropConnections(): void {
    for (const conn of this.connections) conn.destroy();
  }
}

/**
 * Sockets refused at accept that wait for their peer's first bytes: closing a unix socket with its
 * peer's request unread is harmless (the peer reads our frame, then sees the reset), but closing it
 * before the peer wrote makes the peer's write fail with EPIPE before it reads our frame. So a
 * refused socket is closed on the peer's first bytes, its close, or REFUSED_GRACE_MS, whichever
 * comes first, and at most REFUSED_HELD wait at once (the oldest is closed when more come): a burst
 * of connections at the fd limit never takes the reserve and reaches libuv's EMFILE path, which
 * resets connections without a word.
 */
const refusedWaiting = new Set<net.Socket>();
const REFUSED_HELD = 8;
const REFUSED_GRACE_MS = 200;

/** Answers a connection it will not serve with one error frame, then closes it (see refusedWaiting). */
function refuse(socket: net.Socket, code: StatusCode, message: string): void {
  socket.on('error', () => {});
  socket.end(encodeFrame(encodeResponse(errorResponse(0, code, message))));
  const close = () => {
    refusedWaiting.delete(socket);
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, REFUSED_GRACE_MS);
  timer.unref();
  socket.once('data', close);
  socket.once('end', close);
  socket.once('close', close);
  refusedWaiting.add(socket);
  if (refusedWaiting.size > REFUSED_HELD) {
    const oldest = refusedWaiting.values().next().value as net.Socket;
    oldest.destroy();
    refusedWaiting.delete(oldest);
  }
}

/** True when something accepts connections on the socket path. */
export function isSocketLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function readLockPid(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isFinite(pid) ? pid : null;
  } catch {
    return null;
  }
}
