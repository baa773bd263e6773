// One client connection: frames in, envelopes decoded, requests answered strictly in order,
// until a streaming request (attach) takes the connection over. Lives until the socket closes.
import type { Socket } from 'node:net';
import { FrameDecoder, encodeFrame, encodeFrameHeader } from '../wire/frame';
import { decodeRequest, defaultPayloadOf, encodeResponse, errorResponse, peekRequestId } from '../wire/envelope';
import { DaemonError, WireError } from '../wire/errors';
import { PROTOCOL_VERSION, RequestType, StatusCode, type DaemonRequest, type IDaemonResponse } from '../wire/proto';
import type { DispatchEntry, HandlerContext, StreamChannel } from './dispatch';
import type { DaemonState } from './state';
import { TokenBucket } from './rate-limit';
import { handleEnospc } from './emergency-reserve';
import { mapHandlerError } from './error-status';
import { checkFdHeadroom } from './fd-budget';

/** Requests decoded but not yet answered; past this the socket stops being read. */
const MAX_QUEUED_REQUESTS = 256;
/** After a stream ends, how long the peer has to close its side before the socket is destroyed. */
const STREAM_END_GRACE_MS = 5000;
/** Response bodies this big are written after their header instead of copied behind it. */
const SEPARATE_HEADER_MIN_BYTES = 64 * 1024;

/**
 * Requests that open file descriptors in the daemon, with how many at most: refused while that
 * would eat into the fd reserve (fd-budget.ts), before the handler runs.
 */
const FDS_OPENED_BY: Partial<Record<RequestType, number>> = {
  [RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION]: 4,
  [RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION]: 6,
  [RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE]: 1,
  [RequestType.REQUEST_TYPE_SERVICE_START]: 4,
  [RequestType.REQUEST_TYPE_SERVICE_RESTART]: 4,
  [RequestType.REQUEST_TYPE_SERVICE_RESURRECT]: 4,
  [RequestType.REQUEST_TYPE_SPAWN_DAEMON]: 4,
};

interface QueuedRequest {
  body: Buffer;
  rateLimited: boolean;
}

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly queue: QueuedRequest[] = [];
  private readonly bucket: TokenBucket;
  private processing = false;
  private readPaused = false;
  private stream: ConnectionStream | null = null;
  private closed = false;
  /** Set when a frame error (oversize length) ended decoding; answered after the queued requests. */
  private frameError: string | null = null;
  /** Type of the request being answered (metrics label). */
  private lastType: RequestType = RequestType.REQUEST_TYPE_UNSPECIFIED;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly state: DaemonState,
    private readonly table: Map<RequestType, DispatchEntry>,
    private readonly onClosed: (conn: Connection) => void,
  ) {
    this.bucket = new TokenBucket(state.config.requestsPerSecond);
    this.decoder = new FrameDecoder((body) => this.onFrame(body), state.config.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => state.log.debug(`connection #${id}: ${err.message}`));
    socket.on('close', () => this.onClose());
  }

  /** Closes the connection at once (daemon shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      // A bad frame leaves the byte stream unsynchronised: answer once, then close. Requests
      // decoded before it are still answered first, in order (the error frame comes last).
      this.state.log.warn(`connection #${this.id}: ${err.message}; closing`);
      this.frameError = err.message;
      if (this.stream) this.endWithFrameError();
      else void this.pump();
    }
  }

  private endWithFrameError(): void {
    const message = this.frameError!;
    this.queue.length = 0;
    this.socket.end(encodeFrame(encodeResponse(errorResponse(0, StatusCode.STATUS_CODE_INVALID_ARGUMENT, message))));
    // Keep reading (the failed decoder discards the bytes) so the peer's close is seen; a peer
    // that never closes its side must not hold the fd forever.
    this.resumeReading();
    setTimeout(() => this.socket.destroy(), STREAM_END_GRACE_MS).unref();
  }

  private onFrame(body: Buffer): void {
    if (this.stream) {
      this.stream.deliverInput(body);
      return;
    }
    this.queue.push({ body, rateLimited: !this.bucket.take() });
    if (this.queue.length >= MAX_QUEUED_REQUESTS) this.pauseReading();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.stream && !this.closed) {
        const item = this.queue.shift()!;
        await this.handle(item);
      }
    } finally {
      this.processing = false;
    }
    if (this.frameError !== null) {
      if (this.queue.length === 0 && !this.closed && !this.socket.writableEnded) this.endWithFrameError();
      return;
    }
    if (this.readPaused && this.socket.writableNeedDrain === false && this.queue.length < MAX_QUEUED_REQUESTS) {
      this.resumeReading();
    }
  }

  private async handle(item: QueuedRequest): Promise<void> {
    const metrics = this.state.metrics;
    if (!metrics) {
      await this.handleRequest(item);
      return;
    }
    const started = process.hrtime.bigint();
    const code = await this.handleRequest(item);
    metrics.observeRequest(this.lastType, code, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Answers one queued request; returns the status code it answered with. */
  private async handleRequest(item: QueuedRequest): Promise<StatusCode> {
    let request: DaemonRequest;
    try {
      request = decodeRequest(item.body);
    } catch (err) {
      this.lastType = RequestType.REQUEST_TYPE_UNSPECIFIED;
      // Echo the id if field 1 is still readable, so the client can correlate the error.
      return this.respond(errorResponse(peekRequestId(item.body), StatusCode.STATUS_CODE_INVALID_ARGUMENT,
        `malformed DaemonRequest (${item.body.length} bytes): ${(err as Error).message}`));
    }
    this.lastType = request.type;
    const requestId = Number(request.id);
    const precheck = this.precheck(request, item);
    if (precheck) return this.respond(this.withErrorPayload(request.type, precheck));
    const entry = this.table.get(request.type)!;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const payload = (request as unknown as Record<string, any>)[entry.payload];
    const after: Array<() => void> = [];
    const ctx: HandlerContext = {
      state: this.state,
      requestId,
      clientLabel: request.clientName ? `${request.clientName} (connection #${this.id})` : `connection #${this.id}`,
      connectionId: this.id,
      afterResponse: (fn) => after.push(fn),
      clientGone: () => this.closed,
    };
    try {
      if (entry.mode === 'unary') {
        let result = entry.handle(payload, ctx);
        if (result instanceof Promise) result = await result;
        return this.respond({ requestId, code: StatusCode.STATUS_CODE_OK, [entry.payload]: result }, after);
      } else {
        const start = await entry.handle(payload, ctx);
        if (this.closed) {
          // The client left while the handler worked (a screen replay renders first): the stream
          // starts on a closed channel, so what it acquired (the attach slot) is let go at once.
          if (start.start) start.start(ConnectionStream.closedOn(this.socket, ctx.clientLabel));
          return StatusCode.STATUS_CODE_OK;
        }
        const code = this.respond({ requestId, code: StatusCode.STATUS_CODE_OK, ...start.alsoRespond, [entry.payload]: start.response }, after);
        if (start.start) this.beginStream(ctx.clientLabel, start.start);
        return code;
      }
    } catch (err) {
      return this.respond(this.withErrorPayload(request.type, this.toResponse(err, requestId, request.type)));
    }
  }

  /** An error answer with the empty payload its entry asks for (attach requests; see errorCarriesPayload). */
  private withErrorPayload(type: RequestType, response: IDaemonResponse): IDaemonResponse {
    const entry = this.table.get(type);
    if (!entry || entry.mode !== 'stream' || !entry.errorCarriesPayload) return response;
    return { ...response, [entry.payload]: {} };
  }

  /** Envelope checks before dispatch; returns the error response, or null to dispatch. */
  private precheck(request: DaemonRequest, item: QueuedRequest): IDaemonResponse | null {
    const requestId = Number(request.id);
    const version = request.protocolVersion || 1;
    if (version > PROTOCOL_VERSION) {
      return errorResponse(requestId, StatusCode.STATUS_CODE_VERSION_MISMATCH,
        `protocol version ${version} is newer than this daemon supports (${PROTOCOL_VERSION})`);
    }
    if (item.rateLimited) {
      return errorResponse(requestId, StatusCode.STATUS_CODE_RATE_LIMITED,
        `rate limit exceeded: at most ${this.state.config.requestsPerSecond} requests per second per connection`);
    }
    if (request.type === RequestType.REQUEST_TYPE_UNSPECIFIED) {
      return errorResponse(requestId, StatusCode.STATUS_CODE_UNKNOWN_REQUEST, 'unspecified request type');
    }
    const entry = this.table.get(request.type);
    if (!entry) {
      const name = RequestType[request.type] as string | undefined;
      return name
        ? errorResponse(requestId, StatusCode.STATUS_CODE_UNIMPLEMENTED, `request type ${name} (${request.type}) is not implemented yet`)
        : errorResponse(requestId, StatusCode.STATUS_CODE_UNKNOWN_REQUEST, `unknown request type ${request.type}`);
    }
    if (this.state.shuttingDown) {
      return errorResponse(requestId, StatusCode.STATUS_CODE_UNAVAILABLE, 'daemon is shutting down');
    }
    const fields = request as unknown as Record<string, unknown>;
    // No payload at all means the all-default message (a proto3 sender may omit it; the reference
    // answers it so): the handler then validates its fields as it would an explicit empty one.
    if (fields[entry.payload] == null) fields[entry.payload] = defaultPayloadOf(request.type, entry.payload);
    const fdsNeeded = FDS_OPENED_BY[request.type];
    if (fdsNeeded !== undefined) {
      try {
        checkFdHeadroom(RequestType[request.type], fdsNeeded);
      } catch (err) {
        return errorResponse(requestId, (err as DaemonError).code, (err as Error).message);
      }
    }
    return null;
  }

  private toResponse(err: unknown, requestId: number, type: RequestType): IDaemonResponse {
    if (err instanceof DaemonError) return errorResponse(requestId, err.code, err.message);
    const mapped = mapHandlerError(err, RequestType[type]);
    if (mapped) return errorResponse(requestId, mapped.code, mapped.message);
    const message = err instanceof Error ? err.message : String(err);
    // A handler's own write (registry DB, state file) hit a full disk: free the emergency reserve
    // so the next write succeeds, and tell the client to retry rather than report a bug.
    if (handleEnospc(this.state, `${RequestType[type]} hit a full disk (${message})`, err)) {
      return errorResponse(requestId, StatusCode.STATUS_CODE_UNAVAILABLE,
        `disk full while handling ${RequestType[type]}: ${message}; the emergency reserve is ${this.state.emergencyReserve}, retry`);
    }
    this.state.log.error(`request ${requestId} (${RequestType[type]}) failed: ${err instanceof Error ? err.stack : message}`);
    return errorResponse(requestId, StatusCode.STATUS_CODE_INTERNAL, `internal error handling ${RequestType[type]}: ${message}`);
  }

  /** Writes one response frame; returns its status code (for metrics). */
  private respond(response: IDaemonResponse, after: Array<() => void> = []): StatusCode {
    const code = response.code ?? StatusCode.STATUS_CODE_OK;
    if (this.closed) return code;
    const body = encodeResponse(response);
    const callback = after.length > 0 ? () => after.forEach((fn) => fn()) : undefined;
    let ok: boolean;
    if (body.length < SEPARATE_HEADER_MIN_BYTES) ok = this.socket.write(encodeFrame(body), callback);
    else {
      // A big body (an attach backlog) goes out as header + body in one writev: no copy of it.
      this.socket.cork();
      this.socket.write(encodeFrameHeader(body.length));
      ok = this.socket.write(body, callback);
      this.socket.uncork();
    }
    // A client that does not read its responses stops being read: memory stays bounded.
    if (!ok) this.pauseReading();
    return code;
  }

  private beginStream(clientLabel: string, start: (channel: StreamChannel) => void): void {
    const stream = new ConnectionStream(this.socket, clientLabel);
    this.stream = stream;
    // The stream handler reads input frames itself (detach, keystrokes): never leave it paused.
    this.resumeReading();
    start(stream);
    for (const item of this.queue.splice(0)) stream.deliverInput(item.body);
  }

  private pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
  }

  private resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.socket.resume();
  }

  private onDrain(): void {
    if (this.frameError !== null) return;
    if (!this.stream && this.queue.length < MAX_QUEUED_REQUESTS) this.resumeReading();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.decoder.stop();
    this.queue.length = 0;
    this.stream?.fireClose();
    this.onClosed(this);
  }
}

/** StreamChannel over a connection's socket, handed to a streaming handler. */
class ConnectionStream implements StreamChannel {
  private inputListener: ((body: Buffer) => void) | null = null;
  private readonly closeListeners: Array<() => void> = [];
  closed = false;

  constructor(readonly socket: Socket, readonly clientLabel: string) {}

  /** A channel whose client is already gone: onClose listeners run as they are added. */
  static closedOn(socket: Socket, clientLabel: string): ConnectionStream {
    const channel = new ConnectionStream(socket, clientLabel);
    channel.closed = true;
    return channel;
  }

  writeFrame(body: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(encodeFrame(body));
  }

  writeEncodedFrame(frame: Buffer, onFlushed?: () => void): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(frame, onFlushed ? () => onFlushed() : undefined);
  }

  onInput(listener: (body: Buffer) => void): void {
    this.inputListener = listener;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never closes its side must not hold the fd forever.
    setTimeout(() => this.socket.destroy(), STREAM_END_GRACE_MS).unref();
  }

  deliverInput(body: Buffer): void {
    this.inputListener?.(body);
  }

  fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeListeners.splice(0)) fn();
  }
}
