// The dispatch table: data, one entry per request type, like tmux's cmd_entry. Each entry names
// its payload field (equal to the RequestType number) and whether it answers once or takes over
// the connection as a stream. Families contribute their entries from handlers/*.ts.
import type { Socket } from 'node:net';
import { RequestType } from '../wire/proto';
import type { DaemonState } from './state';

import type { PayloadKey, RequestPayload, ResponsePayload } from '../wire/payload';

export type { PayloadKey, RequestPayload, ResponsePayload };

/** What a handler knows of the request and connection it serves. */
export interface HandlerContext {
  readonly state: DaemonState;
  readonly requestId: number;
  /** client_name from the envelope, or "connection #N". */
  readonly clientLabel: string;
  readonly connectionId: number;
  /** Runs fn once this request's response has been handed to the socket (SHUTDOWN acks first). */
  afterResponse(fn: () => void): void;
  /** True once the requesting client closed its connection (a handler that awaits checks before acting). */
  clientGone(): boolean;
}

/** The connection as seen by a streaming handler after its response went out. */
export interface StreamChannel {
  readonly socket: Socket;
  readonly clientLabel: string;
  /** Writes one length-prefixed frame; returns socket.write()'s answer (false = wait for 'drain'). */
  writeFrame(body: Uint8Array): boolean;
  /**
   * Writes bytes that already are a complete frame (see encodeBytesFieldFrame). `onFlushed` runs
   * once the socket is done with the frame's memory (written or failed), e.g. to reuse it.
   */
  writeEncodedFrame(frame: Buffer, onFlushed?: () => void): boolean;
  /** Frames the client sends after the response (e.g. PtyInputFrame bodies). */
  onInput(listener: (body: Buffer) => void): void;
  /** Runs once when the socket closes for any reason. */
  onClose(listener: () => void): void;
  /** Flushes what was written and closes the connection. */
  end(): void;
  readonly closed: boolean;
}

export interface StreamStart<K extends PayloadKey> {
  response: ResponsePayload<K>;
  /** More payload fields of the same response (a spawn that attached answers with the attach too). */
  alsoRespond?: { [P in PayloadKey]?: ResponsePayload<P> };
  /**
   * Called after the response frame is written; owns the connection from then on. Absent: the
   * request was answered like a unary one and the connection goes on taking requests.
   */
  start?(channel: StreamChannel): void;
}

export interface UnaryEntry<K extends PayloadKey> {
  type: RequestType;
  payload: K;
  mode: 'unary';
  handle(payload: RequestPayload<K>, ctx: HandlerContext): ResponsePayload<K> | Promise<ResponsePayload<K>>;
}

export interface StreamEntry<K extends PayloadKey> {
  type: RequestType;
  payload: K;
  mode: 'stream';
  handle(payload: RequestPayload<K>, ctx: HandlerContext): StreamStart<K> | Promise<StreamStart<K>>;
  /**
   * Error answers carry the payload field too, as an empty message: the reference answers attach
   * requests so, and its clients read the attach payload before the status.
   */
  errorCarriesPayload?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DispatchEntry = UnaryEntry<any> | StreamEntry<any>;

/** Declares a unary entry with its payload types checked against the proto. */
export function unary<K extends PayloadKey>(
  type: RequestType, payload: K, handle: UnaryEntry<K>['handle'],
): UnaryEntry<K> {
  return { type, payload, mode: 'unary', handle };
}

/**
 * Declares a streaming entry (attach): it answers once, then takes over the connection, unless
 * this request's answer has no start() (SPAWN_PTY_SESSION streams only when asked to attach).
 */
export function stream<K extends PayloadKey>(
  type: RequestType, payload: K, handle: StreamEntry<K>['handle'], opts: { errorCarriesPayload?: boolean } = {},
): StreamEntry<K> {
  return { type, payload, mode: 'stream', handle, ...opts };
}

/** Builds the lookup table; a type registered twice is a programming error. */
export function buildDispatchTable(entries: DispatchEntry[]): Map<RequestType, DispatchEntry> {
  const table = new Map<RequestType, DispatchEntry>();
  for (const entry of entries) {
    if (table.has(entry.type)) throw new Error(`request type ${RequestType[entry.type]} registered twice`);
    table.set(entry.type, entry);
  }
  return table;
}
