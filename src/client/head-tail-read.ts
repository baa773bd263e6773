// The exec-style bounded view of a session's retained output (issue 16.4): the first and the last
// bytes of [since, end) as valid UTF-8 text with a marker for what lies between, the way `runpm
// exec` shows a command's output to an agent. Two offset reads: only the head and the tail cross
// the socket, however much the ring holds.
import { DEFAULT_HEAD_BYTES, DEFAULT_TAIL_BYTES, HeadTailCapture } from '../agents/bounded-output';
import type { OutputRead } from './output-api';

export interface HeadTailRead {
  /**
   * Head, `[... N bytes omitted ...]`, tail: valid UTF-8, long lines cut (exec's rendering); first
   * `[... N earlier bytes no longer held ...]` when the ring dropped bytes after `since`.
   */
  text: string;
  /** Bytes were left out between head and tail, or a line was cut. */
  truncated: boolean;
  /** Bytes of [startOffset, endOffset) not in text (the cut between head and tail, code point edges). */
  omittedBytes: number;
  /** Lines cut at maxLineBytes. */
  cutLines: number;
}

export type HeadTailSpec = number | true | { headBytes?: number; tailBytes?: number; maxLineBytes?: number };

/** Head and tail sizes of a spec: a budget is split in half; true is exec's 16 + 16 KiB. */
export function headTailSizes(spec: HeadTailSpec): { headBytes: number; tailBytes: number; maxLineBytes?: number } {
  const sizes = spec === true ? { headBytes: DEFAULT_HEAD_BYTES, tailBytes: DEFAULT_TAIL_BYTES }
    : typeof spec === 'number' ? { headBytes: Math.floor(spec / 2), tailBytes: spec - Math.floor(spec / 2) }
      : { headBytes: spec.headBytes ?? DEFAULT_HEAD_BYTES, tailBytes: spec.tailBytes ?? DEFAULT_TAIL_BYTES, maxLineBytes: spec.maxLineBytes };
  for (const [name, n] of Object.entries(sizes)) {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new RangeError(`headTail ${name} must be a non-negative integer, got ${n}`);
  }
  if (sizes.headBytes + sizes.tailBytes === 0) throw new RangeError('headTail must keep at least one byte');
  return sizes;
}

/** Reads head and tail of [since, end) with `read` (one GET_SESSION_BACKLOG each) and renders them. */
export async function readHeadTail(read: (fromOffset: number, maxBytes: number) => Promise<OutputRead>, since: number, spec: HeadTailSpec): Promise<OutputRead & HeadTailRead> {
  if (!Number.isSafeInteger(since) || since < 0) throw new RangeError(`since must be a non-negative integer, got ${since}`);
  const sizes = headTailSizes(spec);
  // max_bytes 0 means "everything": a head of 0 bytes reads 1 only to learn the offsets.
  const first = await read(since, Math.max(1, sizes.headBytes));
  const head = sizes.headBytes > 0 ? first.output : first.output.subarray(0, 0);
  const headEnd = first.startOffset + head.length;
  const capture = new HeadTailCapture(sizes);
  capture.push(head);
  let last = first;
  let endOffset = headEnd;
  if (first.totalBytes > headEnd) {
    const tailFrom = Math.max(headEnd, first.totalBytes - sizes.tailBytes);
    last = await read(tailFrom, first.totalBytes - tailFrom);
    // What lies between (and anything the ring dropped meanwhile) is omitted, never spliced.
    capture.skip(last.startOffset - headEnd);
    capture.push(last.output);
    endOffset = last.endOffset;
  }
  const rendered = capture.render();
  // The agent reading the text learns that older output existed, as exec marks what it omits.
  if (first.droppedBytes > 0) rendered.text = `[... ${first.droppedBytes} earlier bytes no longer held ...]\n${rendered.text}`;
  return {
    ...last,
    output: Buffer.from(rendered.text),
    startOffset: first.startOffset,
    endOffset,
    droppedBytes: first.droppedBytes,
    // The stream has ended only if this read reached its end.
    ended: last.ended && endOffset >= last.totalBytes,
    text: rendered.text,
    truncated: rendered.truncated,
    omittedBytes: rendered.omittedBytes,
    cutLines: rendered.cutLines,
  };
}
