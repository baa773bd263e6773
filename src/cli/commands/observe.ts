// runpm observe ID: registers a session observer, prints its events as they come (one line or one
// JSON object each) until the session has ended, then unregisters it. Ctrl-C unregisters too.
import type { Command } from 'commander';
import type { DaemonClient } from '../../client/daemon-client';
import type { ObserverFrame, ObserverSessionKindName } from '../../client/observers-api';
import { action, connectFor, globalsOf } from '../context';

interface ObserveOptions {
  kind?: string;
  process: boolean;
  capacity?: string;
  block: boolean;
}

function parseCapacity(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65536) throw new Error(`--capacity must be an integer from 1 to 65536, got ${JSON.stringify(value)}`);
  return n;
}

/** Registers on the kind given, else PIPE, retried as PTY when the daemon says it is a PTY session. */
async function register(c: DaemonClient, id: string, opts: ObserveOptions): Promise<{ kind: ObserverSessionKindName; subscriberId: string }> {
  if (opts.kind !== undefined && opts.kind !== 'pty' && opts.kind !== 'pipe') throw new Error(`--kind must be pty or pipe, got ${JSON.stringify(opts.kind)}`);
  const reg = (kind: ObserverSessionKindName) => c.registerSessionObserver({
    sessionId: id, sessionKind: kind, categories: opts.process ? ['lifecycle', 'process'] : ['lifecycle'],
    capacity: parseCapacity(opts.capacity), block: opts.block,
  }).then((subscriberId) => ({ kind, subscriberId }));
  if (opts.kind) return reg(opts.kind as ObserverSessionKindName);
  try {
    return await reg('pipe');
  } catch (err) {
    if (!/it is a PTY session/.test((err as Error).message)) throw err;
    return reg('pty');
  }
}

/** One line of text for a frame. */
function frameText(f: ObserverFrame): string {
  switch (f.kind) {
    case 'event': {
      const e = f.event;
      const parts = [`#${e.seq}`, new Date(e.timestampMs).toISOString(), e.kind, `pid=${e.pid}`];
      if (e.stream) parts.push(`stream=${e.stream}`);
      if (e.kind === 'exited') parts.push(`exit=${e.exitCode}`);
      if (e.detail) parts.push(e.detail);
      return parts.join(' ');
    }
    case 'missed': return `[runpm: ${f.events} events missed]`;
    case 'session-ended': return 'session ended';
    case 'unregistered': return 'observer unregistered';
    case 'stolen': return `observer taken over by ${f.by}`;
    case 'error': return `observer ended: ${f.message}`;
  }
}

export function registerObserveCommands(program: Command): void {
  program.command('observe <id>')
    .description('print a session\'s lifecycle events (attach, detach, exit; --process: descendants) until it ends')
    .option('--kind <kind>', 'session kind, pty or pipe (default: found out)')
    .option('--process', 'also report descendants starting and exiting (seen by polling /proc)', false)
    .option('--capacity <events>', 'events queued while this client is slow (default 1024)')
    .option('--block', 'when the queue is full, hold the session\'s output instead of dropping the oldest event', false)
    .action(action(async (id: string, opts: ObserveOptions, cmd: Command) => {
      const json = globalsOf(cmd).json;
      const client = await connectFor(cmd);
      try {
        const { kind, subscriberId } = await register(client, id, opts);
        const ref = { sessionId: id, sessionKind: kind, subscriberId };
        const stream = await client.streamSessionObserver(ref);
        const stop = () => stream.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        let ended = false;
        for await (const f of stream) {
          process.stdout.write(`${json ? JSON.stringify(f) : frameText(f)}\n`);
          ended = f.kind === 'session-ended';
        }
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        // Interrupted or cut off: the subscription must not outlive this command.
        if (!ended) await client.unregisterSessionObserver(ref).catch(() => {});
        return ended ? 0 : 1;
      } finally {
        client.close();
      }
    }));
}
