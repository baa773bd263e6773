// Reading a session's output by absolute offset (issue 15.2), installed on DaemonClient by
// declaration merging: GET_SESSION_BACKLOG with from_offset. Reads consume nothing, so any number of
// readers (a polling loop, `runpm output`, an agent) see the same bytes; each keeps its own offset.
import { DaemonClient } from './daemon-client';
import { RequestType, pb } from '../wire/proto';
import type { PipeStreamName } from './sessions-api';
import { sessionExitOf } from './exit-status';
import { readHeadTail, type HeadTailRead } from './head-tail-read';

/** One read of a session's retained output from an offset. */
export interface OutputRead {
  /** The bytes [startOffset, endOffset). */
  output: Buffer;
  /** Offset of output[0]: the requested offset, or later when the ring no longer held it. */
  startOffset: number;
  /** Offset just after output: pass it as fromOffset to the next read. */
  endOffset: number;
  /** Bytes between the requested offset and startOffset that the ring dropped (exact). */
  droppedBytes: number;
  /** Bytes the stream has produced so far. */
  totalBytes: number;
  /** The session's leader has exited. */
  exited: boolean;
  /** Its exit status as a shell reports it (128 + n when signal n ended it); null while it runs. */
  exitCode: number | null;
  /** The signal that ended it ("SIGKILL"), else null. */
  signal: string | null;
  /** The stream is closed and endOffset is its last byte: nothing more will come. */
  ended: boolean;
  /** "pipe" or "pty". */
  sessionKind: string;
}

export interface ReadOutputOptions {
  /** Pipe sessions: which stream (stdout by default). Ignored for PTY sessions. */
  stream?: PipeStreamName;
  /** Absolute offset to read from; 0 (default) = the oldest byte still held. */
  fromOffset?: number;
  /**
   * At most this many bytes. Default: everything held up to the stream's end at the time of the
   * call (in as many requests as it takes; the daemon answers at most 2 MiB per request).
   */
  maxBytes?: number;
}

/**
 * readOutput's object form (what an agent's tool passes): `since` is fromOffset; `headTail` asks
 * for exec's bounded view instead of every byte (see HeadTailOptions).
 */
export interface ReadOutputRequest extends Omit<ReadOutputOptions, 'fromOffset'> {
  sessionId: string;
  /** Absolute offset to read from (a previous endOffset); 0 / absent = the oldest byte still held. */
  since?: number;
  /**
   * Bounded head + tail instead of everything: a byte budget (half head, half tail; `true` = 32 KiB,
   * exec's 16 + 16 KiB), or the two sizes. Long lines are cut as exec cuts them.
   */
  headTail?: number | true | { headBytes?: number; tailBytes?: number; maxLineBytes?: number };
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * The retained output of a session from an absolute offset, consuming nothing, with the exit
     * status. A polling loop passes the previous endOffset as fromOffset and gets every byte exactly
     * once (droppedBytes says how many the ring lost in between), until `ended`.
     */
    readOutput(sessionId: string, opts?: ReadOutputOptions): Promise<OutputRead>;
    /**
     * The same as an object; with `headTail`, exec's bounded view of [startOffset, endOffset): the
     * first and last bytes as valid UTF-8 text with an omitted marker (`text`, `truncated`,
     * `omittedBytes`); only the head and the tail cross the socket.
     */
    readOutput(request: ReadOutputRequest): Promise<OutputRead & Partial<HeadTailRead>>;
  }
}

async function readOnce(client: DaemonClient, sessionId: string, stream: PipeStreamName | undefined, fromOffset: number, maxBytes: number): Promise<OutputRead> {
  const r = await client.request(RequestType.REQUEST_TYPE_GET_SESSION_BACKLOG, 'getSessionBacklog', {
    sessionId,
    pipeStream: stream === 'stderr' ? pb.PipeStreamKind.PIPE_STREAM_KIND_STDERR : pb.PipeStreamKind.PIPE_STREAM_KIND_STDOUT,
    fromOffset,
    maxBytes,
  });
  const b = r.backlog;
  return {
    output: Buffer.from(b.buffer, b.byteOffset, b.length),
    startOffset: Number(r.startOffset),
    endOffset: Number(r.endOffset),
    droppedBytes: Number(r.droppedBytes),
    totalBytes: Number(r.totalBytes),
    exited: r.exited,
    // As everywhere in the library: a shell's status (the wire has -signo for a signal).
    ...sessionExitOf(r.exited, r.exitCode),
    ended: r.outputEnded,
    sessionKind: r.sessionKind,
  };
}

DaemonClient.prototype.readOutput = async function (this: DaemonClient, idOrRequest: string | ReadOutputRequest, options: ReadOutputOptions = {}) {
  let sessionId: string;
  let opts: ReadOutputOptions;
  if (typeof idOrRequest === 'string') {
    sessionId = idOrRequest;
    opts = options;
  } else {
    const { sessionId: id, since, headTail, ...rest } = idOrRequest;
    if (headTail !== undefined) {
      return readHeadTail((from, maxBytes) => readOnce(this, id, rest.stream, from, maxBytes), since ?? 0, headTail);
    }
    sessionId = id;
    opts = { ...rest, fromOffset: since };
  }
  const from = opts.fromOffset ?? 0;
  if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`fromOffset must be a non-negative integer, got ${from}`);
  if (opts.maxBytes !== undefined) return readOnce(this, sessionId, opts.stream, from, Math.max(1, opts.maxBytes));
  const first = await readOnce(this, sessionId, opts.stream, from, 0);
  const target = first.totalBytes;
  if (first.endOffset >= target) return first;
  // More than one answer holds (a ring larger than one answer): read on to where the stream was at
  // the first answer. The result stays contiguous: if the ring dropped bytes between two answers,
  // what came before the gap is given up and counted in droppedBytes.
  let parts = [first.output];
  let last = first;
  while (last.endOffset < target && last.output.length > 0) {
    last = await readOnce(this, sessionId, opts.stream, last.endOffset, 0);
    if (last.droppedBytes > 0) parts = [];
    parts.push(last.output);
  }
  const output = Buffer.concat(parts);
  const startOffset = last.endOffset - output.length;
  return { ...last, output, startOffset, droppedBytes: startOffset - from };
};
