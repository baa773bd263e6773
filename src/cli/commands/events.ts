// runpm events: follow the daemon's lifecycle events as they happen (one line or one JSON object each).
import type { Command } from 'commander';
import { action, connectFor, globalsOf } from '../context';

export function registerEventCommands(program: Command): void {
  program.command('events')
    .description('follow lifecycle events (sessions, services, reaped zombies) until interrupted')
    .option('--kind <prefix...>', 'only events whose kind starts with one of these (e.g. session. service.status)')
    .option('--since <seq>', 'first replay retained events after this sequence number', '0')
    .action(action(async (opts: { kind?: string[]; since: string }, cmd: Command) => {
      const sinceSeq = Number(opts.since);
      if (!Number.isInteger(sinceSeq) || sinceSeq < 0) throw new Error(`--since must be a non-negative integer, got ${JSON.stringify(opts.since)}`);
      const json = globalsOf(cmd).json;
      const client = await connectFor(cmd);
      const sub = await client.subscribeEvents({ kinds: opts.kind, sinceSeq });
      client.close();
      const stop = () => sub.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      for await (const e of sub) {
        if (json) {
          process.stdout.write(`${JSON.stringify(e)}\n`);
          continue;
        }
        const parts = [`#${e.seq}`, new Date(e.atMs).toISOString(), e.kind];
        if (e.sessionId) parts.push(`session=${e.sessionId}`);
        if (e.service) parts.push(`service=${e.service}`);
        if (e.pid) parts.push(`pid=${e.pid}`);
        if (e.status) parts.push(`status=${e.status}`);
        if (e.kind === 'session.exited') parts.push(`exit=${e.exitCode}${e.signal ? ` signal=${e.signal}` : ''}`);
        // An exit's detail is its signal's name, said above already.
        if (e.detail && !(e.kind === 'session.exited' && e.detail === e.signal)) parts.push(e.detail);
        process.stdout.write(`${parts.join(' ')}\n`);
      }
    }));
}
