// Head + tail bounded capture of a byte stream for LLM consumption (runpm exec): keeps the first
// headBytes and the last tailBytes whatever the stream's size, then renders valid UTF-8 text with
// markers for what was omitted and for lines cut at maxLineBytes. Lives for one exec call.

export interface BoundedOutputOptions {
  headBytes?: number;
  tailBytes?: number;
  maxLineBytes?: number;
}

export interface RenderedOutput {
  text: string;
  /** True when bytes were omitted between head and tail or any line was cut. */
  truncated: boolean;
  /** Bytes the stream carried in total. */
  totalBytes: number;
  /** Bytes left out between head and tail. */
  omittedBytes: number;
  /** Lines cut at maxLineBytes. */
  cutLines: number;
}

export const DEFAULT_HEAD_BYTES = 16 * 1024;
export const DEFAULT_TAIL_BYTES = 16 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 2048;

/** Collects a stream keeping only its head and tail (memory ≤ head + 2 × tail). */
export class HeadTailCapture {
  private readonly headBytes: number;
  /** headBytes, lowered to what the head holds once a gap was skipped. */
  private headBytesLimit: number;
  private readonly tailBytes: number;
  private readonly maxLineBytes: number;
  private head: Buffer[] = [];
  private headLength = 0;
  private tail: Buffer[] = [];
  private tailLength = 0;
  private total = 0;

  constructor(opts: BoundedOutputOptions = {}) {
    this.headBytes = opts.headBytes ?? DEFAULT_HEAD_BYTES;
    this.headBytesLimit = this.headBytes;
    this.tailBytes = opts.tailBytes ?? DEFAULT_TAIL_BYTES;
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Adds bytes in stream order. */
  push(chunk: Uint8Array): void {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.total += buf.length;
    if (this.headLength < this.headBytesLimit) {
      const take = Math.min(buf.length, this.headBytesLimit - this.headLength);
      this.head.push(Buffer.from(buf.subarray(0, take)));
      this.headLength += take;
      buf = buf.subarray(take);
    }
    if (buf.length === 0 || this.tailBytes === 0) return;
    this.tail.push(Buffer.from(buf.subarray(Math.max(0, buf.length - this.tailBytes))));
    this.tailLength += Math.min(buf.length, this.tailBytes);
    // Compact once the tail holds twice its bound, so memory stays bounded without per-push copies.
    if (this.tailLength > 2 * this.tailBytes) this.compactTail();
  }

  /**
   * Counts n stream bytes that were never seen (a reader that fell behind its ring). The head
   * stops at the gap and the tail restarts after it, so nothing is spliced across a gap.
   */
  skip(n: number): void {
    if (n <= 0) return;
    this.total += n;
    this.headBytesLimit = this.headLength;
    this.tail = [];
    this.tailLength = 0;
  }

  get totalBytes(): number {
    return this.total;
  }

  /** Renders the capture as text (UTF-8, no split code points, markers for what was left out). */
  render(): RenderedOutput {
    this.compactTail();
    const head = Buffer.concat(this.head);
    const tail = Buffer.concat(this.tail);
    const omitted = this.total - head.length - tail.length;
    let text: string;
    let cutLines = 0;
    let omittedBytes = 0;
    if (omitted <= 0) {
      const all = Buffer.concat([head, tail]);
      ({ text, cutLines } = cutLongLines(all, this.maxLineBytes));
    } else {
      const headEnd = utf8BoundaryBefore(head, head.length);
      const tailStart = utf8BoundaryAfter(tail, 0);
      omittedBytes = omitted + (head.length - headEnd) + tailStart;
      const h = cutLongLines(head.subarray(0, headEnd), this.maxLineBytes);
      const t = cutLongLines(tail.subarray(tailStart), this.maxLineBytes);
      cutLines = h.cutLines + t.cutLines;
      const sepBefore = h.text.endsWith('\n') || h.text === '' ? '' : '\n';
      text = `${h.text}${sepBefore}[... ${omittedBytes} bytes omitted ...]\n${t.text}`;
    }
    return { text, truncated: omittedBytes > 0 || cutLines > 0, totalBytes: this.total, omittedBytes, cutLines };
  }

  private compactTail(): void {
    if (this.tailLength <= this.tailBytes) return;
    const joined = Buffer.concat(this.tail);
    const kept = joined.subarray(joined.length - this.tailBytes);
    this.tail = [Buffer.from(kept)];
    this.tailLength = kept.length;
  }
}

/** Cuts lines longer than maxLineBytes (at a code point boundary) and decodes to a valid string. */
export function cutLongLines(bytes: Buffer, maxLineBytes: number): { text: string; cutLines: number } {
  let out = '';
  let cutLines = 0;
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    const hasNewline = end !== -1;
    if (!hasNewline) end = bytes.length;
    const lineLength = end - start;
    if (lineLength > maxLineBytes) {
      const keep = utf8BoundaryBefore(bytes, start + maxLineBytes) - start;
      out += `${bytes.toString('utf8', start, start + keep)}[... line cut: ${lineLength - keep} more bytes]`;
      cutLines++;
    } else {
      out += bytes.toString('utf8', start, end);
    }
    if (hasNewline) out += '\n';
    start = end + 1;
  }
  return { text: out, cutLines };
}

/** Largest index ≤ end that does not split a UTF-8 sequence. */
export function utf8BoundaryBefore(bytes: Uint8Array, end: number): number {
  let i = end;
  // Step back over continuation bytes (10xxxxxx) to the lead byte of the last sequence.
  while (i > 0 && i > end - 4 && (bytes[i - 1] & 0xc0) === 0x80) i--;
  if (i === 0) return end;
  const lead = bytes[i - 1];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return end - (i - 1) >= need ? end : i - 1;
}

/** Smallest index ≥ start that begins a UTF-8 sequence (skips orphan continuation bytes). */
export function utf8BoundaryAfter(bytes: Uint8Array, start: number): number {
  let i = start;
  while (i < bytes.length && i < start + 3 && (bytes[i] & 0xc0) === 0x80) i++;
  return i;
}
