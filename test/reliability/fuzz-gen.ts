// Fuzz input generators for the wire: fast-check arbitraries built by reflection over
// proto/daemon.proto, so every request type present in the proto gets random payloads (also
// types whose handlers do not exist yet), then made safe (no SHUTDOWN, no spawning real
// commands, no killing or registering real pids, no writing outside the fuzz dir).
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import fc from 'fast-check';
import { pb, RequestType } from '../../src/wire/proto';
import { payloadFieldOf } from '../../src/wire/envelope';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';

const ROOT = path.resolve(__dirname, '..', '..');
const PACKAGE = 'running_process.daemon.v1';
const reflection = protobuf.loadSync(path.join(ROOT, 'proto', 'daemon.proto')).resolveAll();
const requestType = reflection.lookupType(`${PACKAGE}.DaemonRequest`);

/** pids that cannot be real (pid_max is at most 2^22): REGISTER/KILL_TREE can never hit a process. */
const SAFE_PIDS = [0, 4_000_000_000, 4_294_967_295];
/** A program that does not exist: spawn requests fail instead of running anything. */
const MISSING_PROGRAM = '/nonexistent/runpm-fuzz-program';

/** Every request type in the proto, numerically. */
export const ALL_TYPES: RequestType[] = Object.values(RequestType).filter((v): v is RequestType => typeof v === 'number');
/** Types that take over the connection when they succeed: sent last on a connection. */
export const STREAM_TYPES = new Set<RequestType>([
  RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION,
  RequestType.REQUEST_TYPE_ATTACH_PIPE_STREAM,
  RequestType.REQUEST_TYPE_SUBSCRIBE_EVENTS,
  RequestType.REQUEST_TYPE_STREAM_SESSION_OBSERVER,
]);
/** Never fuzzed: SHUTDOWN stops the daemon; SPAWN_DAEMON runs a detached command that outlives it. */
export const EXCLUDED_TYPES = new Set<RequestType>([
  RequestType.REQUEST_TYPE_UNSPECIFIED,
  RequestType.REQUEST_TYPE_SHUTDOWN,
  RequestType.REQUEST_TYPE_SPAWN_DAEMON,
]);
/** Unary types fuzzed with random (sanitised) payloads. */
export const UNARY_TYPES = ALL_TYPES.filter((t) => !EXCLUDED_TYPES.has(t) && !STREAM_TYPES.has(t));
/** Types a random body may decode to and still be sent as is (read-only requests). */
const READ_ONLY_TYPES = new Set<RequestType>([
  RequestType.REQUEST_TYPE_LIST_ACTIVE, RequestType.REQUEST_TYPE_LIST_BY_ORIGINATOR, RequestType.REQUEST_TYPE_GET_PROCESS_TREE,
  RequestType.REQUEST_TYPE_PING, RequestType.REQUEST_TYPE_STATUS, RequestType.REQUEST_TYPE_SERVICE_LIST,
  RequestType.REQUEST_TYPE_SERVICE_DESCRIBE, RequestType.REQUEST_TYPE_LIST_PTY_SESSIONS, RequestType.REQUEST_TYPE_LIST_PIPE_SESSIONS,
  RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, RequestType.REQUEST_TYPE_GET_SESSION_TEE_STATUS,
]);

export interface FuzzOptions {
  /** The daemon's --max-frame-bytes: huge strings go up to (and just past) it. */
  maxFrameBytes: number;
  /** Directory the fuzzer may let the daemon write into (tee paths). */
  scratchDir: string;
}

/** Random strings: short unicode, hostile constants, and rarely one near the frame limit. */
function stringArb(opts: FuzzOptions): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
    { weight: 4, arbitrary: fc.constantFrom('', 'all', '0', '-1', '../../../etc/passwd', 'a\0b', '\u{1F600}', ' ', 'x'.repeat(300), '%s%n', '\ud800') },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: Math.max(1, opts.maxFrameBytes - 64) }).map((n) => 'z'.repeat(n)) },
  );
}

function uintArb(bits: 32 | 64): fc.Arbitrary<number> {
  const max = bits === 32 ? 4_294_967_295 : Number.MAX_SAFE_INTEGER;
  return fc.oneof(
    fc.constantFrom(0, 1, 2, 2 ** 31 - 1, 2 ** 31, max, -1),
    fc.integer({ min: 0, max: 1000 }),
    fc.integer({ min: 0, max: bits === 32 ? max : 2 ** 52 }),
  );
}

function scalarArb(type: string, opts: FuzzOptions): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string': return stringArb(opts);
    case 'bytes': return fc.oneof({ weight: 10, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: Math.max(0, opts.maxFrameBytes - 64) }).map((n) => new Uint8Array(n)) });
    case 'bool': return fc.boolean();
    case 'double': case 'float': return fc.oneof(fc.double(), fc.constantFrom(-1, 0, 1e308, -0, Number.NaN, Infinity, -Infinity, 0.5));
    case 'int32': case 'sint32': case 'sfixed32': return fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-1, 0, 2 ** 31 - 1));
    case 'uint32': case 'fixed32': return uintArb(32);
    case 'int64': case 'sint64': case 'sfixed64': return fc.oneof(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), fc.constantFrom(-1, 0, Number.MAX_SAFE_INTEGER));
    case 'uint64': case 'fixed64': return uintArb(64);
    default: throw new Error(`fuzz-gen: unhandled scalar type ${type}`);
  }
}

function fieldArb(field: protobuf.Field, opts: FuzzOptions, depth: number): fc.Arbitrary<unknown> {
  field.resolve();
  const resolved = field.resolvedType;
  let base: fc.Arbitrary<unknown>;
  if (resolved instanceof protobuf.Enum) {
    const values = Object.values(resolved.values);
    // Wrong enum values too: unknown numbers and negatives.
    base = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 1000 }) });
  } else if (resolved instanceof protobuf.Type) {
    base = depth > 3 ? fc.constant({}) : messageArb(resolved, opts, depth + 1);
  } else {
    base = scalarArb(field.type, opts);
  }
  if (field instanceof protobuf.MapField) {
    return fc.dictionary(fc.string({ maxLength: 12 }), base as fc.Arbitrary<string>, { maxKeys: 4 });
  }
  if (field.repeated) return fc.array(base, { maxLength: 5 });
  return base;
}

/** A random plain object for message `type` (every field may be left out). */
function messageArb(type: protobuf.Type, opts: FuzzOptions, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of type.fieldsArray) parts[field.name] = fieldArb(field, opts, depth);
  return fc.record(parts, { requiredKeys: [] });
}

/** Makes a payload for `type` harmless without losing its oddness (see the file comment). */
function sanitisePayload(type: RequestType, payload: Record<string, unknown>, opts: FuzzOptions, pick: number): Record<string, unknown> {
  const p = { ...payload };
  switch (type) {
    case RequestType.REQUEST_TYPE_REGISTER: case RequestType.REQUEST_TYPE_UNREGISTER: case RequestType.REQUEST_TYPE_KILL_TREE:
      p.pid = SAFE_PIDS[pick % SAFE_PIDS.length];
      break;
    case RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION: case RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION: {
      const argv = (p.argv as string[] | undefined) ?? [];
      // An empty argv stays empty (a validation case); otherwise the program cannot exist.
      if (argv.length > 0) p.argv = [MISSING_PROGRAM, ...argv.slice(1)];
      // A spawn that attaches turns the connection into a stream (the PTY tests cover it): here
      // every frame must get an answer.
      delete p.attach;
      break;
    }
    case RequestType.REQUEST_TYPE_SERVICE_START: {
      const config = { ...((p.config as Record<string, unknown> | undefined) ?? {}) };
      const cmd = (config.cmd as string[] | undefined) ?? [];
      if (cmd.length > 0) config.cmd = [MISSING_PROGRAM, ...cmd.slice(1)];
      config.autorestart = false; // no restart loop of a failing program during the run
      // Names stay in a filename-safe alphabet: path escapes via names are the services tests' job.
      if (typeof config.name === 'string') config.name = config.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
      if (p.config !== undefined) p.config = config;
      break;
    }
    case RequestType.REQUEST_TYPE_SERVICE_LOGS:
      p.follow = false;
      break;
    case RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE: {
      // Absolute paths inside the scratch dir only, plus a few invalid ones; never a relative path.
      const choices = [path.join(opts.scratchDir, `tee-${pick % 8}.log`), '', '/nonexistent-dir/runpm-fuzz/tee.log', `${opts.scratchDir}/a\0b`];
      p.filePath = Buffer.from(choices[pick % choices.length]);
      break;
    }
    default:
      break;
  }
  return p;
}

/** A sanitised request payload for one type. */
export function payloadArb(type: RequestType, opts: FuzzOptions): fc.Arbitrary<Record<string, unknown>> {
  const field = requestType.fields[payloadFieldOf(type)];
  if (!field) throw new Error(`fuzz-gen: DaemonRequest has no payload field for ${RequestType[type]}`);
  return fc.tuple(messageArb(field.resolvedType as protobuf.Type, opts), fc.nat())
    .map(([payload, pick]) => sanitisePayload(type, payload, opts, pick));
}

export interface FuzzFrame {
  /** The frame body as sent (a DaemonRequest, or bytes that may not decode). */
  body: Uint8Array;
  /** request id to expect back (only for envelopes we built with a small id). */
  expectId: number | null;
  kind: 'envelope' | 'random-body' | 'missing-payload';
}

/** Valid envelopes with mutated fields: random unary type (or unknown/wrong types), random payload. */
function envelopeArb(opts: FuzzOptions, types: RequestType[]): fc.Arbitrary<FuzzFrame> {
  const typed = fc.constantFrom(...types).chain((type) => fc.record({
    type: fc.constant(type),
    payload: fc.option(payloadArb(type, opts), { freq: 8, nil: undefined }),
    id: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 2 ** 31 }) }, { weight: 1, arbitrary: uintArb(64) }),
    protocolVersion: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: uintArb(32) }),
    clientName: fc.option(stringArb(opts), { freq: 3, nil: undefined }),
  }));
  return typed.map(({ type, payload, id, protocolVersion, clientName }) => {
    const request: Record<string, unknown> = { id, type, protocolVersion, clientName };
    if (payload !== undefined) request[payloadFieldOf(type)] = payload;
    const body = pb.DaemonRequest.encode(request).finish();
    const exact = Number.isSafeInteger(id) && id >= 0;
    return { body, expectId: exact ? id : null, kind: payload === undefined ? 'missing-payload' : 'envelope' };
  });
}

/** Envelopes whose type is unknown to the proto (UNKNOWN_REQUEST) or negative-looking. */
function unknownTypeArb(): fc.Arbitrary<FuzzFrame> {
  // Known types in that range (ours from 1000 up) are left out: without their payload they are
  // real requests (the all-default payload), and a stream one would take the connection over.
  return fc.record({ id: fc.integer({ min: 1, max: 2 ** 31 }), type: fc.oneof(fc.integer({ min: 81, max: 100_000 }), fc.constantFrom(-1, 1, 9, 43, 2 ** 31 - 1)) })
    .filter(({ type }) => RequestType[type] === undefined)
    .map(({ id, type }) => ({ body: pb.DaemonRequest.encode({ id, type: type as RequestType, ping: {} }).finish(), expectId: id, kind: 'envelope' as const }));
}

/** True when a body would reach a handler with side effects (so random bytes must not be sent as is). */
export function isUnsafeBody(body: Uint8Array): boolean {
  let decoded: ReturnType<typeof pb.DaemonRequest.decode>;
  try {
    decoded = pb.DaemonRequest.decode(body);
  } catch {
    return false;
  }
  const known = RequestType[decoded.type] !== undefined;
  return known && decoded.type !== RequestType.REQUEST_TYPE_UNSPECIFIED && !READ_ONLY_TYPES.has(decoded.type);
}

/** Random bytes as a body; one that happens to decode to a side-effecting request is spoiled. */
function randomBodyArb(): fc.Arbitrary<FuzzFrame> {
  return fc.uint8Array({ maxLength: 96 }).map((bytes) => {
    // 0x0f is field 1 with wire type 7, which no decoder accepts.
    const body = isUnsafeBody(bytes) ? Buffer.concat([Buffer.from([0x0f]), bytes]) : bytes;
    return { body, expectId: null, kind: 'random-body' as const };
  });
}

/** One frame of a fuzzed connection. */
export function frameArb(opts: FuzzOptions): fc.Arbitrary<FuzzFrame> {
  return fc.oneof(
    { weight: 14, arbitrary: envelopeArb(opts, UNARY_TYPES) },
    { weight: 3, arbitrary: randomBodyArb() },
    { weight: 1, arbitrary: unknownTypeArb() },
    { weight: 1, arbitrary: fc.constant<FuzzFrame>({ body: new Uint8Array(0), expectId: null, kind: 'random-body' }) },
  );
}

/** How a fuzzed connection ends after its frames. */
export type Ending = 'clean' | 'truncated' | 'oversize';

export interface FuzzConnection {
  frames: FuzzFrame[];
  ending: Ending;
  /** The ending's bytes: a partial frame, or an oversize length prefix. */
  tail: Buffer;
  /** Write boundaries: the byte stream is cut at these fractions (frames split across writes). */
  splits: number[];
}

/** A connection's worth of frames and how it ends. */
export function connectionArb(opts: FuzzOptions, frames: number): fc.Arbitrary<FuzzConnection> {
  return fc.record({
    frames: fc.array(frameArb(opts), { minLength: frames, maxLength: frames }),
    ending: fc.constantFrom<Ending>('clean', 'clean', 'clean', 'truncated', 'oversize'),
    cut: fc.integer({ min: 1, max: 64 }),
    over: fc.oneof(fc.constant(0xffffffff), fc.integer({ min: opts.maxFrameBytes + 1, max: 0xffffffff })),
    splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
  }).map(({ frames: fs, ending, cut, over, splits }) => {
    let tail = Buffer.alloc(0);
    if (ending === 'truncated') {
      const whole = encodeFrame(pb.DaemonRequest.encode({ id: 1, type: RequestType.REQUEST_TYPE_PING, ping: {} }).finish());
      tail = whole.subarray(0, Math.min(cut, whole.length - 1));
    } else if (ending === 'oversize') {
      tail = Buffer.alloc(4);
      tail.writeUInt32BE(over >>> 0, 0);
    }
    return { frames: fs, ending, tail, splits };
  });
}

/** Raw random bytes (not framed by us): their frames and fate are computed with a local decoder. */
export interface RawStream {
  bytes: Buffer;
  /** Complete frames the daemon will see. */
  frames: number;
  /** The stream contains a length above the limit (one INVALID_ARGUMENT, then close). */
  oversize: boolean;
}

/** Random byte streams whose complete frames are all harmless (re-drawn otherwise). */
export function rawStreamArb(opts: FuzzOptions): fc.Arbitrary<RawStream> {
  const small = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 40 }))
    .map(([n, b]) => { const h = Buffer.alloc(4); h.writeUInt32BE(n, 0); return Buffer.concat([h, b]); });
  return fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.array(small, { minLength: 1, maxLength: 6 }).map((parts) => Buffer.concat(parts)))
    .map((bytes) => simulate(bytes, opts.maxFrameBytes))
    .filter((s): s is RawStream => s !== null);
}

function simulate(bytes: Buffer, maxFrameBytes: number): RawStream | null {
  let frames = 0;
  let unsafe = false;
  let oversize = false;
  const decoder = new FrameDecoder((body) => {
    frames++;
    if (isUnsafeBody(body)) unsafe = true;
  }, maxFrameBytes);
  try {
    decoder.push(bytes);
  } catch {
    oversize = true;
  }
  return unsafe ? null : { bytes, frames, oversize };
}

/** Stream-type requests (attach, subscribe) followed by random input frames (PtyInputFrame and bytes). */
export interface StreamCase {
  request: Uint8Array;
  id: number;
  inputs: Uint8Array[];
}

export function streamCaseArb(opts: FuzzOptions): fc.Arbitrary<StreamCase> {
  const ptyInput = messageArb(reflection.lookupType(`${PACKAGE}.PtyInputFrame`), opts)
    .map((frame) => pb.PtyInputFrame.encode(frame).finish());
  return fc.record({
    type: fc.constantFrom(...STREAM_TYPES),
    id: fc.integer({ min: 1, max: 2 ** 31 }),
    pick: fc.nat(),
    inputs: fc.array(fc.oneof(ptyInput, fc.uint8Array({ maxLength: 64 })), { maxLength: 12 }),
  }).chain(({ type, id, inputs }) => payloadArb(type, opts).map((payload) => ({
    request: pb.DaemonRequest.encode({ id, type, [payloadFieldOf(type)]: payload }).finish(),
    id,
    inputs,
  })));
}
