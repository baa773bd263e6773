// runpm output ID: a session's output from the shell, by absolute offset, consuming nothing (any
// number of readers see the same bytes). Without --follow it prints what the daemon retains (from
// --since N); --head-tail gives exec's bounded view for an agent's context; --json one object for
// polling loops. --follow prints from the retained start (or --since) until the stream ends, then
// exits with the child's status as a shell reports it (128 + n for a signal), so
// `runpm output $ID --follow; echo $?` behaves like running the command in the foreground.
import type { Command } from 'commander';
import { StringDecoder } from 'node:string_decoder';
import type { DaemonClient } from '../../client/daemon-client';
import { exitStatusOf } from '../../client/exit-status';
import type { OutputRead } from '../../client/output-api';
import { utf8BoundaryBefore } from '../../agents/bounded-output';
import { action, globalsOf, withClient } from '../context';
import { DaemonError } from '../../wire/errors';
import { StatusCode } from '../../wire/proto';
import { sessionKindOf } from './pty';

interface OutputFlags {
  stderr: boolean;
  follow: boolean;
  steal: boolean;
  since?: string;
  maxBytes?: string;
  headTail?: string | true;
}

/** exec's default view: 16 KiB of head and 16 KiB of tail. */
const DEFAULT_HEAD_TAIL_BYTES = 32 * 1024;

function writeOut(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve) => (process.stdout.write(data) ? resolve() : process.stdout.once('drain', resolve)));
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Says on stderr what the ring no longer held, so nothing is lost silently. */
function noteDropped(r: OutputRead, since: number | undefined): void {
  if (r.droppedBytes <= 0) return;
  const what = since === undefined ? 'older bytes are' : `bytes from offset ${since} on are`;
  process.stderr.write(`runpm: [${r.droppedBytes} ${what} no longer held; this output starts at offset ${r.startOffset}]\n`);
}

/**
 * An offset read as the one JSON object of `--json output`. The text ends on a whole UTF-8
 * character while the stream goes on (endOffset moves back with it), so a loop that concatenates
 * `output` and passes endOffset as --since gets every character once.
 */
function jsonRecord(id: string, stream: string, r: OutputRead & { text?: string; truncated?: boolean; omittedBytes?: number }): Record<string, unknown> {
  let endOffset = r.endOffset;
  let output: string;
  if (r.text !== undefined) output = r.text;
  else {
    const cut = r.ended ? r.output.length : utf8BoundaryBefore(r.output, r.output.length);
    endOffset = r.startOffset + cut;
    output = r.output.subarray(0, cut).toString('utf8');
  }
  return {
    sessionId: id, kind: r.sessionKind, stream: r.sessionKind === 'pty' ? 'output' : stream,
    output, startOffset: r.startOffset, endOffset, droppedBytes: r.droppedBytes, totalBytes: r.totalBytes,
    ended: r.ended && endOffset === r.endOffset, exited: r.exited, exitCode: r.exitCode, signal: r.signal,
    truncated: r.truncated ?? false, omittedBytes: r.omittedBytes ?? 0,
  };
}

/** The child's status once it has exited (a pipe may close before its writer exits). */
async function statusAfterEnd(c: DaemonClient, id: string): Promise<{ exitCode: number; signal: string | null }> {
  const r = await c.waitForExit(id, { leaderOnly: true });
  return { exitCode: r.exitCode ?? 1, signal: r.signal };
}

/** Where a --follow prints: raw bytes, or with --json one line per chunk (whole characters) and the end. */
function followSink(json: boolean) {
  const decoder = new StringDecoder('utf8');
  return {
    bytes: (data: Buffer, offset: number): Promise<void> => {
      if (!json) return writeOut(data);
      const text = decoder.write(data);
      return text === '' ? Promise.resolve() : writeOut(`${JSON.stringify({ event: 'output', offset, text })}\n`);
    },
    missed: (bytes: number, offset: number): Promise<void> => {
      if (json) return writeOut(`${JSON.stringify({ event: 'dropped', bytes, offset })}\n`);
      process.stderr.write(`runpm: [${bytes} bytes dropped at offset ${offset - bytes}]\n`);
      return Promise.resolve();
    },
    end: async (fields: Record<string, unknown>): Promise<void> => {
      if (!json) return;
      const rest = decoder.end();
      if (rest) await writeOut(`${JSON.stringify({ event: 'output', text: rest })}\n`);
      await writeOut(`${JSON.stringify({ event: 'end', ...fields })}\n`);
    },
  };
}

type Sink = ReturnType<typeof followSink>;

/** Quickest and slowest look of a follow that polls (another client holds the attachment). */
const POLL_MIN_MS = 20;
const POLL_MAX_MS = 250;

/**
 * A follow while another client is attached (the daemon gives a stream one attachment): offset
 * reads consume nothing, so this reader polls from its own offset to the end instead of taking the
 * stream from the other. Every byte the ring still holds arrives; a gap is said, never spliced.
 */
async function pollFollow(c: DaemonClient, id: string, stream: 'stdout' | 'stderr', sink: Sink, since: number): Promise<number> {
  let position = since;
  let pause = POLL_MIN_MS;
  for (;;) {
    const r = await c.readOutput(id, { stream, fromOffset: position });
    if (r.droppedBytes > 0) await sink.missed(r.droppedBytes, r.startOffset);
    if (r.output.length > 0) await sink.bytes(r.output, r.startOffset);
    position = r.endOffset;
    if (r.ended) {
      const status = r.exited ? { exitCode: r.exitCode ?? 1, signal: r.signal } : await statusAfterEnd(c, id);
      await sink.end({ endOffset: position, exited: true, ...status });
      return status.exitCode;
    }
    pause = r.output.length > 0 ? POLL_MIN_MS : Math.min(POLL_MAX_MS, pause * 2);
    // The reader's own polling interval (nothing to wait on: the attachment is someone else's).
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** Follows one attachment (pipe stream or PTY) to its terminal frame; returns the exit status. */
async function follow(c: DaemonClient, id: string, flags: OutputFlags, sink: Sink, since: number): Promise<number> {
  const isPty = await sessionKindOf(c, id) === 'pty';
  const stream = flags.stderr ? 'stderr' as const : 'stdout' as const;
  // From an offset: no backlog, every byte as a frame, consuming nothing (other readers unaffected).
  let att;
  try {
    att = isPty
      ? await c.attachPty(id, { steal: flags.steal, isTty: false, fromOffset: since })
      : await c.attachPipe(id, { stream, steal: flags.steal, fromOffset: since });
  } catch (err) {
    // The stream's one attachment is another client's: read alongside it instead of taking it.
    if (!(err instanceof DaemonError) || err.code !== StatusCode.STATUS_CODE_ALREADY_ATTACHED) throw err;
    return pollFollow(c, id, stream, sink, since);
  }
  // A gap the ring dropped before `since`'s bytes comes as the first (missed) frame.
  let position = since;
  const ending = async (code: number, fields: Record<string, unknown> = {}): Promise<number> => {
    await sink.end({ endOffset: position, ...fields });
    return code;
  };
  for await (const f of att) {
    switch (f.kind) {
      case 'bytes':
      case 'output':
        await sink.bytes(f.data, f.offset ?? position);
        position = (f.offset ?? position) + f.data.length;
        break;
      case 'missed':
        position = f.offset ?? position + f.bytes;
        await sink.missed(f.bytes, position);
        break;
      case 'exit': {
        const status = exitStatusOf(f.code);
        return ending(status.exitCode, { exited: true, ...status });
      }
      // The stream closed before the exit was known: the status comes with the exit.
      case 'eof': {
        const status = await statusAfterEnd(c, id);
        return ending(status.exitCode, { exited: true, ...status });
      }
      case 'error': process.stderr.write(`runpm: ${f.message}\n`); return ending(1, { error: f.message });
      case 'stolen': process.stderr.write(`runpm: stream taken over by ${f.by}\n`); return ending(1, { error: `stolen by ${f.by}` });
      case 'detached':
        process.stderr.write(`runpm: detached by another client; session ${id} keeps running\n`);
        return ending(0, { detached: true });
    }
  }
  // The connection ended without a terminal frame: what the session says now.
  const status = await statusAfterEnd(c, id);
  return ending(status.exitCode, { exited: true, ...status });
}

export function registerOutputCommand(program: Command): void {
  program.command('output')
    .description('print a session\'s retained output (stdout unless --stderr), consuming nothing; --follow prints on until it ends and exits with its status')
    .argument('<id>', 'session id')
    .option('--stderr', 'the stderr stream', false)
    .option('--since <offset>', 'from this absolute byte offset (a previous endOffset) instead of the oldest byte held')
    .option('--max-bytes <n>', 'at most this many bytes (read on with --since <endOffset>)')
    .option('--head-tail [bytes]', `exec's bounded view: the first and last BYTES/2 of it (default ${DEFAULT_HEAD_TAIL_BYTES}), omitted bytes marked`)
    .option('--follow', 'print live output until the stream ends; exit with the session\'s status', false)
    .option('--steal', 'with --follow: take the stream over from another attached client', false)
    .action(action(async (id: string, flags: OutputFlags, cmd: Command) => {
      const json = globalsOf(cmd).json === true;
      const since = flags.since === undefined ? undefined : nonNegativeInt('--since', flags.since);
      const maxBytes = flags.maxBytes === undefined ? undefined : nonNegativeInt('--max-bytes', flags.maxBytes);
      if (maxBytes === 0) throw new Error('--max-bytes must be at least 1 (leave it out for everything held)');
      const headTail = flags.headTail === undefined ? undefined
        : flags.headTail === true ? DEFAULT_HEAD_TAIL_BYTES : nonNegativeInt('--head-tail', flags.headTail);
      if (headTail === 0) throw new Error('--head-tail must keep at least 1 byte');
      if (flags.follow && (headTail !== undefined || maxBytes !== undefined)) throw new Error('--follow prints everything: it does not go with --head-tail or --max-bytes');
      if (headTail !== undefined && maxBytes !== undefined) throw new Error('--head-tail and --max-bytes are two different bounds: choose one');
      if (flags.steal && !flags.follow) throw new Error('--steal goes with --follow');
      const stream = flags.stderr ? 'stderr' as const : 'stdout' as const;

      if (flags.follow) {
        return withClient(cmd, (c) => follow(c, id, flags, followSink(json), since ?? 0), { autoStart: false });
      }
      const r = await withClient(cmd, (c) => (headTail !== undefined
        ? c.readOutput({ sessionId: id, stream, since, headTail })
        : c.readOutput(id, { stream, fromOffset: since, maxBytes })), { autoStart: false });
      if (json) {
        await writeOut(`${JSON.stringify(jsonRecord(id, stream, r), null, 2)}\n`);
        return;
      }
      noteDropped(r, since);
      await writeOut(r.output);
    }));
}
