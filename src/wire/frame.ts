// Length-prefixed framing: a 4-byte big-endian unsigned length, then that many bytes.
// FrameDecoder is an incremental state machine (READ_LENGTH, READ_BODY) that checks the length
// against its limit before buffering any of the body, so an oversize frame costs nothing.
import { WireError } from './errors';

/** Default largest frame body either side accepts. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;

/** Returns the length prefix followed by the body, as one buffer. */
export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** Returns just the 4-byte prefix, for writers that send header and body separately (no copy). */
export function encodeFrameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

type DecoderState = 'READ_LENGTH' | 'READ_BODY';

/**
 * Incremental frame decoder. push() may be given any split of the byte stream; complete
 * bodies are handed to onFrame in order. After an error the decoder stays failed.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private state: DecoderState = 'READ_LENGTH';
  private bodyLength = 0;
  private failed = false;
  private paused = false;
  /** pushTransient() state: the header bytes so far, and the body being filled (one copy per byte). */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;

  constructor(
    private readonly onFrame: (body: Buffer) => void,
    private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {}

  /** Feeds bytes; throws WireError ERR_FRAME_TOO_LARGE when a length exceeds the limit. */
  push(chunk: Buffer): void {
    if (this.failed) return;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    this.decodeBuffered();
  }

  /**
   * Stops handing frames to onFrame (a consumer with enough work queued): pushed bytes are kept,
   * and decoded on resume(). The owner stops reading its source meanwhile, so what is kept stays
   * within one read past the pause.
   */
  pause(): void {
    this.paused = true;
  }

  /** Hands on the frames held since pause(); throws like push(). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.failed) this.decodeBuffered();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private decodeBuffered(): void {
    while (!this.paused) {
      if (this.state === 'READ_LENGTH') {
        if (this.buffered < FRAME_HEADER_BYTES) return;
        const length = this.consume(FRAME_HEADER_BYTES).readUInt32BE(0);
        this.checkLength(length);
        this.bodyLength = length;
        this.state = 'READ_BODY';
      }
      if (this.buffered < this.bodyLength) return;
      const body = this.consume(this.bodyLength);
      this.state = 'READ_LENGTH';
      this.onFrame(body);
      if (this.failed) return;
    }
  }

  /** Bytes held and not handed on yet: a frame begun but not complete (its header included), or frames kept while paused. */
  get partialBytes(): number {
    if (this.failed) return 0;
    if (this.body !== null) return FRAME_HEADER_BYTES + this.bodyFill;
    if (this.headerFill > 0) return this.headerFill;
    if (this.state === 'READ_BODY') return FRAME_HEADER_BYTES + this.buffered;
    return this.buffered;
  }

  /**
   * Like push(), for a chunk its owner overwrites after this call (a socket's `onread` buffer): each
   * body is allocated once its length is known and filled straight from the chunks, so every byte is
   * copied exactly once however the frames and reads line up. Use either push() or this on a decoder.
   */
  pushTransient(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.failed) {
      if (this.body === null) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        at += take;
        this.headerFill += take;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.headerFill = 0;
        const length = this.header.readUInt32BE(0);
        this.checkLength(length);
        // Small bodies come from Node's pool; big ones get their own memory (nothing else pinned).
        this.body = length < 4096 ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      chunk.copy(this.body, this.bodyFill, at, at + take);
      at += take;
      this.bodyFill += take;
      if (this.bodyFill === this.body.length) {
        const body = this.body;
        this.body = null;
        this.bodyFill = 0;
        this.onFrame(body);
      }
    }
  }

  /**
   * The unfilled rest of the body being assembled by pushTransient(), when at least minBytes of it
   * remain: a reader may read straight into it and report the count with bodyFilled(), so the bulk
   * of a big frame is never copied at all. Null between frames or near a body's end.
   */
  bodyRemainder(minBytes: number): Buffer | null {
    if (this.body === null || this.failed) return null;
    const left = this.body.length - this.bodyFill;
    return left >= minBytes ? this.body.subarray(this.bodyFill) : null;
  }

  /** Counts n bytes a reader put into the view bodyRemainder() gave; completes the frame when full. */
  bodyFilled(n: number): void {
    if (this.body === null || this.failed) return;
    this.bodyFill += n;
    if (this.bodyFill === this.body.length) {
      const body = this.body;
      this.body = null;
      this.bodyFill = 0;
      this.onFrame(body);
    }
  }

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered + this.headerFill + this.bodyFill;
  }

  /** Stops decoding; later pushes are ignored. */
  stop(): void {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    this.body = null;
    this.headerFill = 0;
    this.bodyFill = 0;
  }

  /** Fails the decoder (ERR_FRAME_TOO_LARGE) before any of an oversize body is buffered. */
  private checkLength(length: number): void {
    if (length <= this.maxFrameBytes) return;
    this.stop();
    throw new WireError('ERR_FRAME_TOO_LARGE', `frame length ${length} exceeds the limit of ${this.maxFrameBytes} bytes`);
  }

  private consume(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const head = this.chunks[0];
      const take = Math.min(head.length, n - offset);
      head.copy(out, offset, 0, take);
      offset += take;
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    return out;
  }
}

/** Bytes a varint takes (v a non-negative safe integer). */
function varintLength(v: number): number {
  let n = 1;
  for (; v >= 0x80; v = Math.floor(v / 128)) n++;
  return n;
}

function writeVarint(frame: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    frame[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  frame[at++] = v;
  return at;
}

/** Field number of PipeStreamFrame.offset / PtyStreamFrame.offset (a varint after the bytes field). */
export const STREAM_FRAME_OFFSET_FIELD = 1010;
/** Its tag, (1010 << 3) | 0, as two varint bytes. */
const OFFSET_TAG_BYTES = [((STREAM_FRAME_OFFSET_FIELD << 3) & 0x7f) | 0x80, (STREAM_FRAME_OFFSET_FIELD << 3) >> 7];

/**
 * Bytes a bytes-field frame of this payload takes: prefix, tag, length varint, payload, and with
 * `offset` the trailing offset field (STREAM_FRAME_OFFSET_FIELD).
 */
export function bytesFieldFrameLength(fieldNumber: number, payloadLength: number, offset?: number): number {
  const tag = (fieldNumber << 3) | 2;
  const trailer = offset === undefined ? 0 : OFFSET_TAG_BYTES.length + varintLength(offset);
  return FRAME_HEADER_BYTES + (tag < 0x80 ? 1 : 2) + varintLength(payloadLength) + payloadLength + trailer;
}

/**
 * A complete frame (length prefix included) whose body is a protobuf message holding one bytes
 * field (and, with `offset`, the offset field): what PipeStreamFrame.bytes and PtyStreamFrame.output
 * are. One allocation, one copy of the payload (the attach pump's hot path); equal to
 * encodeFrame(Message.encode({field: payload, offset})).
 */
export function encodeBytesFieldFrame(fieldNumber: number, payload: Uint8Array, offset?: number): Buffer {
  return encodeBytesFieldFrameInto(Buffer.allocUnsafe(bytesFieldFrameLength(fieldNumber, payload.length, offset)), fieldNumber, payload, offset);
}

/**
 * encodeBytesFieldFrame into the start of `target` (at least bytesFieldFrameLength() long, e.g. a
 * pooled buffer); returns the frame as a view of target.
 */
export function encodeBytesFieldFrameInto(target: Buffer, fieldNumber: number, payload: Uint8Array, offset?: number): Buffer {
  const frameLength = bytesFieldFrameLength(fieldNumber, payload.length, offset);
  if (target.length < frameLength) throw new RangeError(`frame needs ${frameLength} bytes, target has ${target.length}`);
  const tag = (fieldNumber << 3) | 2;
  const frame = target.subarray(0, frameLength);
  frame.writeUInt32BE(frameLength - FRAME_HEADER_BYTES, 0);
  let at = FRAME_HEADER_BYTES;
  if (tag < 0x80) frame[at++] = tag;
  else {
    frame[at++] = (tag & 0x7f) | 0x80;
    frame[at++] = tag >> 7;
  }
  at = writeVarint(frame, at, payload.length);
  frame.set(payload, at);
  at += payload.length;
  if (offset !== undefined) {
    frame[at++] = OFFSET_TAG_BYTES[0]!;
    frame[at++] = OFFSET_TAG_BYTES[1]!;
    writeVarint(frame, at, offset);
  }
  return frame;
}

/**
 * Like bytesFieldView, for a body that may end with the offset field (STREAM_FRAME_OFFSET_FIELD)
 * after the bytes field: the payload view and the offset (null when the frame has none).
 */
export function bytesFieldWithOffset(body: Buffer, tag: number): { data: Buffer; offset: number | null } | null {
  if (body.length < 2 || body[0] !== tag) return null;
  let length = 0;
  let scale = 1;
  let at = 1;
  for (;;) {
    if (at >= body.length || at > 5) return null;
    const b = body[at++];
    length += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  const end = at + length;
  if (end === body.length) return { data: body.subarray(at), offset: null };
  if (end > body.length || body[end] !== OFFSET_TAG_BYTES[0] || body[end + 1] !== OFFSET_TAG_BYTES[1]) return null;
  let offset = 0;
  scale = 1;
  let i = end + 2;
  for (;;) {
    if (i >= body.length || i > end + 10) return null;
    const b = body[i++];
    offset += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  return i === body.length ? { data: body.subarray(at, end), offset } : null;
}

/**
 * The inverse of encodeBytesFieldFrame for a body: when the body is exactly one length-delimited
 * field with this one-byte tag, a view of its payload (no copy); otherwise null (decode it normally).
 */
export function bytesFieldView(body: Buffer, tag: number): Buffer | null {
  if (body.length < 2 || body[0] !== tag) return null;
  let length = 0;
  let scale = 1;
  let at = 1;
  for (;;) {
    if (at >= body.length || at > 5) return null;
    const b = body[at++];
    length += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  return at + length === body.length ? body.subarray(at) : null;
}
