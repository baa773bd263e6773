// Types tying each request family's payload field to its request and response messages.
import type { DaemonRequest, IDaemonResponse, DaemonResponse } from './proto';

type EnvelopeKey = 'id' | 'type' | 'protocolVersion' | 'clientName' | 'requestId' | 'code' | 'message' | 'toJSON';
/** Payload field names shared by DaemonRequest and DaemonResponse (ping, spawnPtySession, …). */
export type PayloadKey = Exclude<keyof DaemonRequest & keyof IDaemonResponse, EnvelopeKey>;

/**
 * A decoded message as protobufjs gives it: proto3 scalars, bytes and repeated fields always have
 * a value (defaults); singular sub-messages may be null.
 */
export type Decoded<T> = {
  [P in keyof T]-?: NonNullable<T[P]> extends infer U
    ? U extends Uint8Array | readonly unknown[] | string | number | boolean ? U : T[P]
    : never;
};

/** Request payload as a handler receives it (decoded). */
export type RequestPayload<K extends PayloadKey> = Decoded<NonNullable<DaemonRequest[K]>>;
/** Request payload as a client builds it (every field optional). */
export type RequestInput<K extends PayloadKey> = NonNullable<DaemonRequest[K]>;
/** Response payload as a handler returns it. */
export type ResponsePayload<K extends PayloadKey> = NonNullable<IDaemonResponse[K]>;
/** Response payload as a client receives it (decoded). */
export type ResponseOutput<K extends PayloadKey> = Decoded<NonNullable<DaemonResponse[K]>>;
