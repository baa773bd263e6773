// runpm tee add|rm|status: copy a session stream into a file the daemon writes, remove such a
// tee, and show how it is doing. Relative file paths are resolved against the caller's cwd.
import * as path from 'node:path';
import type { Command } from 'commander';
import type { DaemonClient } from '../../client/daemon-client';
import { action, emit, withClient } from '../context';
import type { TeeSessionKindName, TeeStreamName } from '../../tee/tee-kinds';

// Names only: tee-kinds itself loads the protobuf code, which the CLI loads lazily with the client.
const STREAM_NAMES: readonly TeeStreamName[] = ['pty-output', 'stdout', 'stderr', 'stdin'];

interface KindOption { kind?: string }

function parseKind(value: string | undefined): TeeSessionKindName | undefined {
  if (value === undefined) return undefined;
  if (value !== 'pty' && value !== 'pipe') throw new Error(`--kind must be pty or pipe, got ${JSON.stringify(value)}`);
  return value;
}

function parseStream(value: string | undefined): TeeStreamName | undefined {
  if (value === undefined) return undefined;
  if (!STREAM_NAMES.includes(value as TeeStreamName)) throw new Error(`--stream must be one of ${STREAM_NAMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as TeeStreamName;
}

function parseHandle(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`HANDLE must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Runs fn with the session kind: the one given, else PIPE, retried as PTY when the daemon says
 * the session is a PTY session (the daemon checks the kind; the CLI need not know it up front).
 */
async function withKind<T>(given: TeeSessionKindName | undefined, fn: (kind: TeeSessionKindName) => Promise<T>): Promise<{ kind: TeeSessionKindName; value: T }> {
  if (given) return { kind: given, value: await fn(given) };
  try {
    return { kind: 'pipe', value: await fn('pipe') };
  } catch (err) {
    if (!/ is a PTY session/.test((err as Error).message)) throw err;
    return { kind: 'pty', value: await fn('pty') };
  }
}

export function registerTeeCommands(program: Command): void {
  const tee = program.command('tee').description('copy a session stream into a file (tees)');

  tee.command('add <id> <file>')
    .description('tee a session stream into FILE (appends unless --truncate)')
    .option('--stream <name>', 'stdout, stderr or stdin (pipe); pty-output or stdin (PTY)')
    .option('--kind <kind>', 'session kind, pty or pipe (default: found out)')
    .option('--truncate', 'truncate FILE first', false)
    .option('--block', 'when the file falls behind, pause the session\'s output instead of dropping the oldest bytes', false)
    .option('--no-markers', 'do not write "[running-process tee missed N bytes]" where bytes were dropped')
    .option('--queue <chunks>', 'queue capacity in chunks (default 1024)')
    .action(action(async (id: string, file: string, opts: KindOption & { stream?: string; truncate: boolean; block: boolean; markers: boolean; queue?: string }, cmd: Command) => {
      const given = parseKind(opts.kind);
      const stream = parseStream(opts.stream);
      const queueCapacity = opts.queue === undefined ? 0 : Number(opts.queue);
      if (!Number.isInteger(queueCapacity) || queueCapacity < 0 || queueCapacity > 0xffffffff) {
        throw new Error(`--queue must be a non-negative integer, got ${JSON.stringify(opts.queue)}`);
      }
      const filePath = path.resolve(file);
      const { kind, value: handle } = await withClient(cmd, (c: DaemonClient) => withKind(given, (k) => c.registerSessionTee({
        sessionId: id, sessionKind: k, stream, filePath, truncate: opts.truncate, block: opts.block,
        suppressMissedMarkers: !opts.markers, queueCapacity,
      })));
      const streamUsed = stream ?? (kind === 'pty' ? 'pty-output' : 'stdout');
      emit(cmd, { handle, sessionId: id, sessionKind: kind, stream: streamUsed, file: filePath },
        () => `tee ${handle}: ${streamUsed} of ${kind} session ${id} → ${filePath} (${opts.truncate ? 'truncate' : 'append'}, ${opts.block ? 'block' : 'drop-oldest'})`);
    }));

  tee.command('rm <id> <handle>')
    .description('flush and close a tee (answers once the file is closed)')
    .option('--kind <kind>', 'session kind, pty or pipe (default: found out)')
    .action(action(async (id: string, handleText: string, opts: KindOption, cmd: Command) => {
      const handle = parseHandle(handleText);
      const given = parseKind(opts.kind);
      await withClient(cmd, (c: DaemonClient) => withKind(given, (k) => c.unregisterSessionTee(id, k, handle)));
      emit(cmd, { removed: true, sessionId: id, handle }, () => `tee ${handle} of session ${id} removed`);
    }));

  tee.command('status <id> <handle>')
    .description('a tee\'s stream, bytes missed so far, and whether its file failed')
    .option('--kind <kind>', 'session kind, pty or pipe (default: found out)')
    .action(action(async (id: string, handleText: string, opts: KindOption, cmd: Command) => {
      const handle = parseHandle(handleText);
      const given = parseKind(opts.kind);
      const { value: st } = await withClient(cmd, (c: DaemonClient) => withKind(given, (k) => c.getSessionTeeStatus(id, k, handle)));
      emit(cmd, { sessionId: id, handle, ...st },
        () => `tee ${handle} of session ${id}: ${st.stream ?? '?'}, ${st.missedBytes} bytes missed, ${st.disconnected ? 'DISCONNECTED (file failed)' : 'connected'}`);
    }));
}
