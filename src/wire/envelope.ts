// The protobuf envelope: DaemonRequest / DaemonResponse to and from frame bodies.
// Payload field names come from the RequestType (REQUEST_TYPE_SPAWN_PTY_SESSION → spawnPtySession).
import { protobufRuntime } from './protobuf-config';
import { pb, RequestType, StatusCode, type DaemonRequest, type DaemonResponse, type IDaemonRequest, type IDaemonResponse } from './proto';

/** Decodes a request body; throws (protobufjs error) when the bytes are not a DaemonRequest. */
export function decodeRequest(body: Uint8Array): DaemonRequest {
  return pb.DaemonRequest.decode(body);
}

/**
 * Best-effort request id of a body that failed to decode (e.g. invalid UTF-8 in a later string),
 * so the error answer still echoes it; 0 when field 1 cannot be read either.
 */
export function peekRequestId(body: Uint8Array): number {
  try {
    const reader = protobufRuntime.Reader.create(body);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === 0) return Number(reader.uint64());
      reader.skipType(tag & 7);
    }
  } catch {
    // Not even the framing of fields is valid.
  }
  return 0;
}

export function encodeRequest(request: IDaemonRequest): Uint8Array {
  return pb.DaemonRequest.encode(request).finish();
}

export function decodeResponse(body: Uint8Array): DaemonResponse {
  return pb.DaemonResponse.decode(body);
}

export function encodeResponse(response: IDaemonResponse): Uint8Array {
  return pb.DaemonResponse.encode(response).finish();
}

/** camelCase payload field name for a request type, e.g. SPAWN_PTY_SESSION → spawnPtySession. */
export function payloadFieldOf(type: RequestType): string {
  const name = (RequestType[type] as string).replace(/^REQUEST_TYPE_/, '').toLowerCase();
  return name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** A response carrying only a status and message. */
export function errorResponse(requestId: number, code: StatusCode, message: string): IDaemonResponse {
  return { requestId, code, message };
}

/**
 * The payload message a request of this type carries when it arrives without one: the message
 * with every field at its default, exactly what an empty payload decodes to. A proto3 sender may
 * omit an all-default payload (the reference's client does for LIST_PTY_SESSIONS), and the
 * reference answers it like the empty message, so we do too. Decoded from one empty
 * length-delimited field numbered like the type (payload field = RequestType by convention).
 */
export function defaultPayloadOf(type: RequestType, payloadField: string): unknown {
  const writer = protobufRuntime.Writer.create();
  writer.uint32(((type << 3) | 2) >>> 0).bytes(new Uint8Array(0));
  return (pb.DaemonRequest.decode(writer.finish()) as unknown as Record<string, unknown>)[payloadField] ?? null;
}
