// One client connection: frames in, envelopes decoded, requests answered strictly in order,
// until a streaming request (attach) takes the connection over. Lives until the socket closes.
// Bounded: at most maxInFlightRequests (and maxQueuedRequestBytes) read but unanswered, at most
// responseBudgetBytes of answers the kernel has not taken before it answers (and reads) no more,
// an incomplete frame counted against the daemon's partial-frame budget and closed after
// frameDeadlineMs. Everything it holds is dropped when the socket closes.
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
import { ConnectionStream, STREAM_END_GRACE_MS } from './connection-stream';
import type { PartialFrameBudget, PartialFrameHolder } from './partial-frames';
import { scheduleMemoryRelease } from './memory-release';

/** A connection that held this much (queued, unsent or partial) asks for a GC when it closes. */
const HEAVY_CONNECTION_BYTES = 1024 * 1024;

/** Response bodies this big are written after their header instead of copied behind it. */
const SEPARATE_HEADER_MIN_BYTES = 64 * 1024;

/**
 * Requests one connection answers before it lets the event loop run (other connections' reads,
 * timers): a client pipelining thousands of cheap requests would otherwise be answered in one go
 * while every other client waits (a PING took 1.2-3 s beside 200 such connections).
 */
const REQUESTS_PER_TURN = 16;

/** Why reading is paused; the socket is read again only when no reason is left. */
type PauseReason = 'queue' | 'response' | 'budget' | 'refused';

/** What the server gives each connection. */
export interface ConnectionHooks {
  /** The first complete frame arrived: null to serve the connection, or the refusal message (connection limit). */
  onFirstFrame(conn: Connection): string | null;
  onClosed(conn: Connection): void;
  readonly partialFrames: PartialFrameBudget;
}

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

export class Connection implements PartialFrameHolder {
  private readonly decoder: FrameDecoder;
  private readonly queue: QueuedRequest[] = [];
  /** Body bytes of the queued requests. */
  private queuedBytes = 0;
  private readonly bucket: TokenBucket;
  private processing = false;
  private readonly pauses = new Set<PauseReason>();
  private stream: ConnectionStream | null = null;
  private closed = false;
  /** Set by the first complete frame (it "authenticates" the connection: only then does it count against the limit). */
  private authenticated = false;
  /** Set when a frame error (oversize length) ended decoding; answered after the queued requests. */
  private frameError: string | null = null;
  /** Type of the request being answered (metrics label). */
  private lastType: RequestType = RequestType.REQUEST_TYPE_UNSPECIFIED;
  /** Closes the connection when an incomplete frame is held past the deadline (only while it is read). */
  private frameDeadline: NodeJS.Timeout | null = null;
  /** Set once the connection held HEAVY_CONNECTION_BYTES or hit a bound: its close asks for a GC. */
  private heavy = false;
  /** True while answers are corked until the next tick (corkUntilTick). */
  private corked = false;
  /** When the connection was accepted (the oldest unauthenticated one is let go first). */
  readonly acceptedAtMs = Date.now();

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly state: DaemonState,
    private readonly table: Map<RequestType, DispatchEntry>,
    private readonly hooks: ConnectionHooks,
  ) {
    this.bucket = new TokenBucket(state.config.requestsPerSecond);
    this.decoder = new FrameDecoder((body) => this.onFrame(body), state.config.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => state.log.debug(`connection #${id}: ${err.message}`));
    socket.on('close', () => this.onClose());
  }

  /** True once a complete frame arrived. */
  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  /** Closes the connection at once (daemon shutdown, or an unauthenticated one let go under pressure). */
  destroy(): void {
    this.socket.destroy();
  }

  pauseForBudget(): void {
    this.pauseReading('budget');
  }

  resumeForBudget(): void {
    this.resumeReading('budget');
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.failFrame(err.message);
    }
    this.afterRead();
  }

  /** A bad frame leaves the byte stream unsynchronised: answer once, then close. */
  private failFrame(message: string): void {
    // Requests decoded before it are still answered first, in order (the error frame comes last).
    this.state.log.warn(`connection #${this.id}: ${message}; closing`);
    this.frameError = message;
    if (this.stream) this.endWithFrameError();
    else void this.pump();
  }

  /** After bytes came in or frames were handed on: the partial-frame budget and deadline follow what the decoder holds. */
  private afterRead(): void {
    if (this.closed) return;
    const held = this.frameError === null ? this.decoder.partialBytes : 0;
    if (held >= HEAVY_CONNECTION_BYTES || this.pauses.size > 0) this.heavy = true;
    this.hooks.partialFrames.update(this, held);
    this.updateFrameDeadline(held);
  }

  /**
   * Runs while the connection holds an incomplete frame and the daemon is reading it (a pause of
   * ours for backpressure does not count against the client: it cannot finish a frame we do not read).
   */
  private updateFrameDeadline(held: number): void {
    const ours = this.pauses.has('queue') || this.pauses.has('response') || this.decoder.isPaused;
    if (held > 0 && !ours && this.frameError === null) {
      if (this.frameDeadline) return;
      const ms = this.state.config.frameDeadlineMs;
      this.frameDeadline = setTimeout(() => {
        this.frameDeadline = null;
        const partial = this.decoder.partialBytes;
        this.state.log.warn(`connection #${this.id}: an incomplete frame (${partial} bytes) was held for ${ms} ms; closing`);
        this.decoder.stop();
        this.failFrame(`incomplete frame: ${partial} bytes of a frame were held for ${ms} ms without the rest; closing the connection`);
        this.afterRead();
      }, ms);
      this.frameDeadline.unref();
    } else if (this.frameDeadline) {
      clearTimeout(this.frameDeadline);
      this.frameDeadline = null;
    }
  }

  private endWithFrameError(): void {
    const message = this.frameError!;
    this.queue.length = 0;
    this.socket.end(encodeFrame(encodeResponse(errorResponse(0, StatusCode.STATUS_CODE_INVALID_ARGUMENT, message))));
    // Keep reading (the failed decoder discards the bytes) so the peer's close is seen; a peer
    // that never closes its side must not hold the fd forever.
    this.queuedBytes = 0;
    this.pauses.clear();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), STREAM_END_GRACE_MS).unref();
  }

  private onFrame(body: Buffer): void {
    if (!this.authenticated) {
      this.authenticated = true;
      const refusal = this.hooks.onFirstFrame(this);
      if (refusal !== null) {
        this.refuse(body, refusal);
        return;
      }
    }
    if (this.stream) {
      this.stream.deliverInput(body);
      return;
    }
    this.queue.push({ body, rateLimited: !this.bucket.take() });
    this.queuedBytes += body.length;
    const { maxInFlightRequests, maxQueuedRequestBytes } = this.state.config;
    if (this.queue.length >= maxInFlightRequests || this.queuedBytes >= maxQueuedRequestBytes) {
      // Enough work queued: decode no further (what was read stays in the decoder) and read no more.
      this.decoder.pause();
      this.pauseReading('queue');
    }
    void this.pump();
  }

  /** Answers the first frame with the refusal (its request id, when readable) and closes. */
  private refuse(body: Buffer, message: string): void {
    this.decoder.stop();
    this.pauseReading('refused');
    this.socket.end(encodeFrame(encodeResponse(errorResponse(peekRequestId(body), StatusCode.STATUS_CODE_UNAVAILABLE, message))));
    setTimeout(() => this.socket.destroy(), STREAM_END_GRACE_MS).unref();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      let answered = 0;
      while (!this.stream && !this.closed) {
        if (this.queue.length === 0 && !this.resumeDecoding()) break;
        if (this.queue.length === 0) continue;
        // Answers the kernel has not taken yet are over the budget: wait for 'drain', read nothing meanwhile.
        if (this.socket.writableLength >= this.state.config.responseBudgetBytes) {
          this.pauseReading('response');
          break;
        }
        if (++answered > REQUESTS_PER_TURN) {
          answered = 1;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.stream || this.closed) break;
        }
        const item = this.queue.shift()!;
        this.queuedBytes -= item.body.length;
        await this.handle(item);
        this.resumeDecoding();
      }
    } finally {
      this.processing = false;
    }
    if (this.frameError !== null) {
      if (this.queue.length === 0 && !this.closed && !this.socket.writableEnded) this.endWithFrameError();
      return;
    }
    this.afterRead();
  }

  /** Decodes frames held since the queue filled, once it has room again; true if it handed any on. */
  private resumeDecoding(): boolean {
    const { maxInFlightRequests, maxQueuedRequestBytes } = this.state.config;
    if (!this.decoder.isPaused || this.closed) return false;
    if (this.queue.length >= maxInFlightRequests || this.queuedBytes >= maxQueuedRequestBytes) return false;
    const before = this.queue.length;
    try {
      this.decoder.resume();
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.failFrame(err.message);
    }
    if (!this.decoder.isPaused) this.resumeReading('queue');
    return this.queue.length > before;
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
    // A client that does not read its responses is answered no further once they pass the
    // response budget (pump() checks before each request): memory stays bounded.
    // Answers given in one turn go out in one writev (one write request, not one per answer).
    this.corkUntilTick();
    if (body.length < SEPARATE_HEADER_MIN_BYTES) this.socket.write(encodeFrame(body), callback);
    else {
      // A big body (an attach backlog) goes out as header + body in one writev: no copy of it.
      this.socket.cork();
      this.socket.write(encodeFrameHeader(body.length));
      this.socket.write(body, callback);
      this.socket.uncork();
    }
    return code;
  }

  /** Corks the socket until the current turn's work is done (the next process tick). */
  private corkUntilTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => this.uncork());
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private beginStream(clientLabel: string, start: (channel: StreamChannel) => void): void {
    // What was answered before goes out now, ahead of the stream's own writes.
    this.uncork();
    const stream = new ConnectionStream(this.socket, clientLabel);
    this.stream = stream;
    // The stream handler reads input frames itself (detach, keystrokes): never leave it paused.
    this.pauses.delete('queue');
    this.pauses.delete('response');
    this.resumeReading('budget');
    start(stream);
    for (const item of this.queue.splice(0)) stream.deliverInput(item.body);
    this.queuedBytes = 0;
    this.resumeDecodingForStream();
  }

  /** Frames held while the queue was full go to the stream now. */
  private resumeDecodingForStream(): void {
    try {
      this.decoder.resume();
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.failFrame(err.message);
    }
    this.afterRead();
  }

  private pauseReading(reason: PauseReason): void {
    if (this.pauses.has(reason)) return;
    this.pauses.add(reason);
    if (this.pauses.size === 1) this.socket.pause();
  }

  private resumeReading(reason: PauseReason): void {
    if (!this.pauses.delete(reason)) return;
    if (this.pauses.size === 0 && !this.closed) this.socket.resume();
  }

  private onDrain(): void {
    if (this.frameError !== null || this.stream) return;
    this.resumeReading('response');
    void this.pump();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.frameDeadline) clearTimeout(this.frameDeadline);
    this.frameDeadline = null;
    this.decoder.stop();
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.hooks.partialFrames.release(this);
    if (this.heavy || this.socket.writableLength >= HEAVY_CONNECTION_BYTES) scheduleMemoryRelease();
    this.stream?.fireClose();
    this.hooks.onClosed(this);
  }
}
