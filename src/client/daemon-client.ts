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
import { FrameStream } from './stream';

/** A streaming connection's read buffer starts this small, and doubles while reads fill it... */
const STREAM_READ_BUFFER_MIN_BYTES = 64 * 1024;
/** ...up to this (fewer, larger reads while output pours in: ~30% more attached throughput than 256 KiB). */
const STREAM_READ_BUFFER_MAX_BYTES = 1024 * 1024;
/** A body with at least this much left is read into directly; smaller rests come through readBuffer. */
const DIRECT_READ_MIN_BYTES = 16 * 1024;

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

/** An open streaming attach: the decoded attach response and the frames that follow it. */
export interface DaemonStream<K extends PayloadKey> {
  response: ResponseOutput<K>;
  frames: FrameStream;
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

  constructor(
    private readonly socket: net.Socket,
    /** Paths of the scope this client talks to. */
    readonly paths: ScopePaths,
    private readonly clientName: string,
    private readonly defaultTimeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    this.decoder = new FrameDecoder((body) => this.onFrame(body), Number.MAX_SAFE_INTEGER);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
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
      this.pending.set(id, { resolve, reject, timer });
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
   * Opens a streaming request on a new connection to the same socket: resolves once the daemon
   * answered OK, with the frames that follow. Rejects with DaemonError when it refuses.
   */
  async openStream<K extends PayloadKey>(type: RequestType, payloadKey: K, payload: RequestInput<K>): Promise<DaemonStream<K>> {
    return openStreamAt(this.paths.socketPath, this.clientName, type, payloadKey, payload);
  }

  /** Closes the connection; pending calls reject. */
  close(): void {
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

  private failAll(err: Error): void {
    if (!this.closedError) this.closedError = err;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

/** The payload of an OK response, or the response as a DaemonError. */
export function payloadOf<K extends PayloadKey>(response: DaemonResponse, payloadKey: K): ResponseOutput<K> {
  if (response.code !== StatusCode.STATUS_CODE_OK) throw new DaemonError(response.code, response.message);
  const payload = (response as unknown as Record<string, unknown>)[payloadKey];
  return (payload ?? {}) as ResponseOutput<K>;
}

/** Connects to socketPath, sends one streaming request and waits for its response. */
export function openStreamAt<K extends PayloadKey>(
  socketPath: string, clientName: string, type: RequestType, payloadKey: K, payload: RequestInput<K>,
): Promise<DaemonStream<K>> {
  return new Promise((resolve, reject) => {
    // Reads land in one reused buffer (fewer, larger reads than 'data' events' fresh 64 KiB
    // buffers); the decoder copies each body out of it once, so the buffer may be swapped any time.
    // The decoder is made first: net.connect() asks for the first read buffer synchronously.
    let readBuffer = Buffer.allocUnsafeSlow(STREAM_READ_BUFFER_MIN_BYTES);
    let frames: FrameStream | null = null;
    let settled = false;
    const decoder = new FrameDecoder((body) => {
      if (frames) {
        frames.push(body);
        return;
      }
      let response: DaemonResponse;
      try {
        response = decodeResponse(body);
        const out = payloadOf(response, payloadKey);
        frames = new FrameStream(socket);
        settled = true;
        resolve({ response: out, frames });
      } catch (err) {
        fail(err as Error);
      }
    }, Number.MAX_SAFE_INTEGER);
    // Mid-way through a big body the next read goes straight into the body (no copy at all).
    let direct: Buffer | null = null;
    const socket = net.connect({
      path: socketPath,
      onread: {
        buffer: () => {
          direct = decoder.bodyRemainder(DIRECT_READ_MIN_BYTES);
          return direct ?? readBuffer;
        },
        callback: (n: number, buf: Uint8Array) => {
          if (buf === direct) {
            direct = null;
            decoder.bodyFilled(n);
            return true;
          }
          decoder.pushTransient((buf as Buffer).subarray(0, n));
          if (n === readBuffer.length && readBuffer.length < STREAM_READ_BUFFER_MAX_BYTES) {
            readBuffer = Buffer.allocUnsafeSlow(readBuffer.length * 2);
          }
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(err);
    };
    socket.once('error', (err) => fail(new WireError('ERR_CONNECTION_CLOSED', `connection to runpmd failed: ${err.message}`)));
    socket.once('close', () => fail(new WireError('ERR_CONNECTION_CLOSED', 'runpmd closed the connection before answering')));
    socket.once('connect', () => {
      const envelope = { id: 1, type, protocolVersion: PROTOCOL_VERSION, clientName, [payloadKey]: payload };
      socket.write(encodeFrame(encodeRequest(envelope)));
    });
  });
}
