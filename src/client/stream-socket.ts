// One connection for one streaming request (an attach, an event subscription): the request, its
// response, then raw frame bodies until the daemon closes. A DaemonClient keeps one of these
// connected ahead of need (its "spare"), so an attach right after a spawn does not wait for
// connect + accept (~0.2 ms of a ~2 ms spawn-to-exit). Lives from connect until the stream ends,
// or until its client closes while it is still the spare.
import * as net from 'node:net';
import { FrameDecoder, encodeFrame } from '../wire/frame';
import { decodeResponse, encodeRequest } from '../wire/envelope';
import { WireError } from '../wire/errors';
import { PROTOCOL_VERSION, type DaemonResponse, type RequestType } from '../wire/proto';
import type { PayloadKey, RequestInput, ResponseOutput } from '../wire/payload';
import { FrameStream } from './stream';

/** The read buffer starts this small, and doubles while reads fill it... */
const READ_BUFFER_MIN_BYTES = 64 * 1024;
/** ...up to this (fewer, larger reads while output pours in: ~30% more attached throughput than 256 KiB). */
const READ_BUFFER_MAX_BYTES = 1024 * 1024;
/** A body with at least this much left is read into directly; smaller rests come through the read buffer. */
const DIRECT_READ_MIN_BYTES = 16 * 1024;

/** An open streaming request: its decoded response and the frames that follow it. */
export interface DaemonStream<K extends PayloadKey> {
  response: ResponseOutput<K>;
  /** The whole response, for requests answered with more than their own payload (spawn attached). */
  envelope: DaemonResponse;
  frames: FrameStream;
}

/** Decodes an OK response's payload; throws the response as an error otherwise. */
export type PayloadReader = <K extends PayloadKey>(response: DaemonResponse, payloadKey: K) => ResponseOutput<K>;

export class StreamSocket {
  readonly socket: net.Socket;
  private readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_MIN_BYTES);
  /** The body view handed out as the current read target, if any. */
  private direct: Buffer | null = null;
  private readonly decoder: FrameDecoder;
  private onFrame: ((body: Buffer) => void) | null = null;
  private connected = false;
  private used = false;

  constructor(socketPath: string) {
    // The decoder exists first: net.connect() asks for the first read buffer synchronously.
    this.decoder = new FrameDecoder((body) => this.deliver(body), Number.MAX_SAFE_INTEGER);
    this.socket = net.connect({
      path: socketPath,
      onread: {
        // Reads land in one reused buffer (fewer, larger reads than 'data' events' fresh 64 KiB
        // buffers) and the decoder copies bodies out of it; mid-way through a big body the read
        // goes straight into the body instead (no copy at all).
        buffer: () => {
          this.direct = this.decoder.bodyRemainder(DIRECT_READ_MIN_BYTES);
          return this.direct ?? this.readBuffer;
        },
        callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer),
      },
    });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => (this.connected = true));
    // A spare that fails while idle is simply not used; errors of a used one reach open()'s caller.
    this.socket.on('error', () => {});
  }

  /** True while this connection can still carry a request (connected or connecting, not used, not closed). */
  get usable(): boolean {
    return !this.used && !this.socket.destroyed;
  }

  /** Keeps the process alive (or not) for this connection's sake: a spare must not. */
  holdProcess(hold: boolean): void {
    if (hold) this.socket.ref();
    else this.socket.unref();
  }

  /**
   * Sends one streaming request and resolves once the daemon answered OK, with the frames that
   * follow. Rejects with DaemonError when it refuses, WireError when the connection fails first.
   * A StreamSocket carries one request.
   */
  open<K extends PayloadKey>(
    clientName: string, type: RequestType, payloadKey: K, payload: RequestInput<K>, payloadOf: PayloadReader,
  ): Promise<DaemonStream<K>> {
    if (this.used) return Promise.reject(new Error('StreamSocket carries one request'));
    this.used = true;
    this.holdProcess(true);
    return new Promise((resolve, reject) => {
      let frames: FrameStream | null = null;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.socket.destroy();
        reject(err);
      };
      if (this.socket.destroyed) {
        fail(new WireError('ERR_CONNECTION_CLOSED', 'runpmd closed the connection before answering'));
        return;
      }
      this.onFrame = (body) => {
        if (frames) {
          frames.push(body);
          return;
        }
        try {
          const envelope = decodeResponse(body);
          const out = payloadOf(envelope, payloadKey);
          frames = new FrameStream(this.socket);
          settled = true;
          resolve({ response: out, envelope, frames });
        } catch (err) {
          fail(err as Error);
        }
      };
      this.socket.once('error', (err) => fail(new WireError('ERR_CONNECTION_CLOSED', `connection to runpmd failed: ${err.message}`)));
      this.socket.once('close', () => fail(new WireError('ERR_CONNECTION_CLOSED', 'runpmd closed the connection before answering')));
      const send = () => {
        const envelope = { id: 1, type, protocolVersion: PROTOCOL_VERSION, clientName, [payloadKey]: payload };
        this.socket.write(encodeFrame(encodeRequest(envelope)));
      };
      if (this.connected) send();
      else this.socket.once('connect', send);
    });
  }

  /** Closes the connection (a spare nobody will use). */
  close(): void {
    this.socket.destroy();
  }

  private onRead(n: number, buf: Buffer): boolean {
    if (buf === this.direct) {
      this.direct = null;
      this.decoder.bodyFilled(n);
      return true;
    }
    this.decoder.pushTransient(buf.subarray(0, n));
    if (n === this.readBuffer.length && this.readBuffer.length < READ_BUFFER_MAX_BYTES) {
      this.readBuffer = Buffer.allocUnsafeSlow(this.readBuffer.length * 2);
    }
    return true;
  }

  private deliver(body: Buffer): void {
    if (this.onFrame) {
      this.onFrame(body);
      return;
    }
    // A frame before any request is a refusal (e.g. UNAVAILABLE at the connection limit): this
    // connection is of no use; the next open() connects afresh and hears the refusal itself.
    this.socket.destroy();
  }
}
