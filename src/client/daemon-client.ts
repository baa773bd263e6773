// DaemonClient: one connection to a scope's daemon, requests correlated by id, one typed method
// per request type. Streaming attaches open their own connection (see openStream). Request
// families add their methods in their own files (client/*-api.ts) on top of request().
import * as net from 'node:net';
import { FrameDecoder, encodeFrame } from '../wire/frame';
import { decodeResponse, encodeRequest } from '../wire/envelope';
import { DaemonError, WireError } from '../wire/errors';
import { PROTOCOL_VERSION, RequestType, StatusCode, type DaemonResponse } from '../wire/proto';
import type { PayloadKey, RequestInput, ResponseOutput } from '../wire/payload';
import type { ScopePaths } from '../scope/paths';
import { StreamSocket, type DaemonStream } from './stream-socket';
import { BUSY_GRACE_MS, daemonActivity, daemonPid, notRespondingMessage, probeDaemon, workedBetween, PROBE_AFTER_MS } from './liveness';

export type { DaemonStream } from './stream-socket';

/** Per-call timeout when the caller gives none. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export interface CallOptions {
  /** Milliseconds before the call fails with WireError ERR_TIMEOUT; 0 waits forever. */
  timeoutMs?: number;
}

interface Pending {
  resolve: (response: DaemonResponse) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

/**
 * A connection to one daemon. Create with `connect()`; methods reject with `DaemonError`
 * (carrying the `StatusCode`) when the daemon answers non-OK, and with `WireError` on transport
 * failures and timeouts.
 */
export class DaemonClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedError: Error | null = null;
  private readonly decoder: FrameDecoder;
  /** A streaming connection made ahead of the next openStream() (none before the first). */
  private spare: StreamSocket | null = null;
  /** Set by close(): no spare is made after it (an attach may still be answered later). */
  private closedByUser = false;
  /** When the daemon last sent anything (or a call began after a quiet time). */
  private lastHeardAtMs = Date.now();
  /** Checks, while calls wait, that the daemon still answers (see liveness.ts). */
  private watchdog: NodeJS.Timeout | null = null;
  private probing = false;

  constructor(
    private readonly socket: net.Socket,
    /** Paths of the scope this client talks to. */
    readonly paths: ScopePaths,
    private readonly clientName: string,
    private readonly defaultTimeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    this.decoder = new FrameDecoder((body) => this.onFrame(body), Number.MAX_SAFE_INTEGER);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastHeardAtMs = Date.now();
      this.decoder.push(chunk);
    });
    socket.on('error', (err) => this.failAll(new WireError('ERR_CONNECTION_CLOSED', `connection to runpmd failed: ${err.message}`)));
    socket.on('close', () => this.failAll(new WireError('ERR_CONNECTION_CLOSED', 'connection to runpmd closed')));
  }

  /** Sends one request and resolves with its decoded payload; rejects with DaemonError on non-OK. */
  async request<K extends PayloadKey>(
    type: RequestType, payloadKey: K, payload: RequestInput<K>, opts: CallOptions = {},
  ): Promise<ResponseOutput<K>> {
    const response = await this.send(type, payloadKey, payload, opts);
    return payloadOf(response, payloadKey);
  }

  /** Sends a raw envelope and resolves with the whole response (any status). Used by tests and tools. */
  send(type: RequestType, payloadKey: string | null, payload: unknown, opts: CallOptions = {}): Promise<DaemonResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const envelope: Record<string, unknown> = { id, type, protocolVersion: PROTOCOL_VERSION, clientName: this.clientName };
    if (payloadKey) envelope[payloadKey] = payload;
    const frame = encodeFrame(encodeRequest(envelope));
    return new Promise<DaemonResponse>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
      const timer = timeoutMs > 0
        ? setTimeout(() => {
          this.pending.delete(id);
          reject(new WireError('ERR_TIMEOUT', `${RequestType[type]} timed out after ${timeoutMs} ms`));
        }, timeoutMs)
        : null;
      if (this.pending.size === 0) this.lastHeardAtMs = Date.now();
      this.pending.set(id, { resolve, reject, timer });
      this.startWatchdog();
      this.socket.write(frame);
    });
  }

  /** PING: resolves with the daemon's clock. */
  ping(opts?: CallOptions): Promise<ResponseOutput<'ping'>> {
    return this.request(RequestType.REQUEST_TYPE_PING, 'ping', {}, opts);
  }

  /** STATUS: version, uptime, counts, paths, scope and reserve state. */
  status(opts?: CallOptions): Promise<ResponseOutput<'status'>> {
    return this.request(RequestType.REQUEST_TYPE_STATUS, 'status', {}, opts);
  }

  /** SHUTDOWN: the daemon answers, then stops (graceful: SIGTERM sessions, SIGKILL after the timeout). */
  shutdown(opts: { graceful?: boolean; timeoutSeconds?: number } = {}, call?: CallOptions): Promise<ResponseOutput<'shutdown'>> {
    return this.request(RequestType.REQUEST_TYPE_SHUTDOWN, 'shutdown',
      { graceful: opts.graceful ?? true, timeoutSeconds: opts.timeoutSeconds ?? 0 }, call);
  }

  /**
   * Opens a streaming request on its own connection to the same socket: resolves once the daemon
   * answered OK, with the frames that follow. Rejects with DaemonError when it refuses. Uses the
   * spare connection made at the previous call when it is still open, and makes the next spare.
   */
  async openStream<K extends PayloadKey>(type: RequestType, payloadKey: K, payload: RequestInput<K>): Promise<DaemonStream<K>> {
    const spare = this.spare?.usable ? this.spare : null;
    this.spare = null;
    try {
      if (spare) {
        try {
          return await spare.open(this.clientName, type, payloadKey, payload, payloadOf);
        } catch (err) {
          // The daemon may have refused the spare (its connection limit: the refusal may not have
          // been read yet) or closed it (a restart): one more try on a new connection.
          if (!isRefusedConnection(err)) throw err;
        }
      }
      return await new StreamSocket(this.paths.socketPath).open(this.clientName, type, payloadKey, payload, payloadOf);
    } finally {
      // The next spare connects once this answer is in, so its accept does not delay this one.
      if (!this.closedError && !this.closedByUser && this.spare === null) {
        this.spare = new StreamSocket(this.paths.socketPath);
        this.spare.holdProcess(false);
      }
    }
  }

  /** Closes the connection (and the spare streaming connection); pending calls reject. */
  close(): void {
    this.closedByUser = true;
    this.spare?.close();
    this.spare = null;
    this.socket.destroy();
  }

  private onFrame(body: Buffer): void {
    let response: DaemonResponse;
    try {
      response = decodeResponse(body);
    } catch (err) {
      this.failAll(new WireError('ERR_BAD_MESSAGE', `undecodable response from runpmd: ${(err as Error).message}`));
      this.socket.destroy();
      return;
    }
    let id = Number(response.requestId);
    // Errors about a frame the daemon could not read carry id 0: they answer the oldest call.
    if (id === 0 && this.pending.size > 0) id = this.pending.keys().next().value as number;
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    entry.resolve(response);
  }

  /** While calls wait: a daemon silent for PROBE_AFTER_MS is probed; one that fails the probe fails the calls. */
  private startWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0 || this.closedError) {
        clearInterval(this.watchdog!);
        this.watchdog = null;
        return;
      }
      const silentMs = Date.now() - this.lastHeardAtMs;
      if (this.probing || silentMs < PROBE_AFTER_MS) return;
      const notResponding = (why: 'stopped' | 'silent' | 'busy') => {
        if (this.pending.size === 0) return;
        this.failAll(new WireError('ERR_NOT_RESPONDING', notRespondingMessage(this.paths.lockPath, this.paths.socketPath, Date.now() - this.lastHeardAtMs, why)));
        this.socket.destroy();
      };
      const pid = daemonPid(this.paths.lockPath);
      const before = daemonActivity(pid);
      if (before.kind === 'stopped') return notResponding('stopped');
      this.probing = true;
      void probeDaemon(this.paths.socketPath).then((alive) => {
        this.probing = false;
        if (alive) {
          this.lastHeardAtMs = Date.now();
          return;
        }
        const after = daemonActivity(pid);
        if (after.kind === 'stopped') return notResponding('stopped');
        // It worked meanwhile: busy on a loaded machine, not hung; probed again, up to BUSY_GRACE_MS of silence.
        if (workedBetween(before, after)) {
          if (Date.now() - this.lastHeardAtMs >= BUSY_GRACE_MS) notResponding('busy');
          return;
        }
        notResponding('silent');
      });
    }, 250);
    this.watchdog.unref();
  }

  private failAll(err: Error): void {
    if (!this.closedError) this.closedError = err;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

/** A connection that failed before its request was answered, or that the daemon refused. */
function isRefusedConnection(err: unknown): boolean {
  if (err instanceof WireError) return err.code === 'ERR_CONNECTION_CLOSED';
  return err instanceof DaemonError && err.code === StatusCode.STATUS_CODE_UNAVAILABLE;
}

/** The payload of an OK response, or the response as a DaemonError. */
export function payloadOf<K extends PayloadKey>(response: DaemonResponse, payloadKey: K): ResponseOutput<K> {
  if (response.code !== StatusCode.STATUS_CODE_OK) throw new DaemonError(response.code, response.message);
  const payload = (response as unknown as Record<string, unknown>)[payloadKey];
  return (payload ?? {}) as ResponseOutput<K>;
}
