// runpm output ID [--follow]: a session's output from the shell. Without --follow it prints what
// the daemon retains; --follow prints on until the stream ends and then exits with the child's
// status as a shell reports it (128 + n for a signal), so `runpm output $ID --follow; echo $?`
// behaves like running the command in the foreground.
import type { Command } from 'commander';
import type { DaemonClient } from '../../client/daemon-client';
import { exitStatusOf } from '../../client/exit-status';
import { action, withClient } from '../context';
import { sessionKindOf } from './pty';

function writeOut(data: Uint8Array): Promise<void> {
  return new Promise((resolve) => (process.stdout.write(data) ? resolve() : process.stdout.once('drain', resolve)));
}

/** The child's status once it has exited (a pipe may close before its writer exits). */
async function statusAfterEnd(c: DaemonClient, id: string): Promise<number> {
  const r = await c.waitForExit(id, { leaderOnly: true });
  return r.exitCode ?? 1;
}

async function followPty(c: DaemonClient, id: string, steal: boolean): Promise<number> {
  // A PTY has one output: follow it as a non-TTY attach (no resize, no input).
  const pty = await c.attachPty(id, { steal, isTty: false });
  await writeOut(pty.backlog);
  for await (const f of pty) {
    switch (f.kind) {
      case 'output': await writeOut(f.data); break;
      case 'missed': process.stderr.write(`runpm: [${f.bytes} bytes dropped]\n`); break;
      case 'exit': return exitStatusOf(f.code).exitCode;
      case 'error': process.stderr.write(`runpm: ${f.message}\n`); return 1;
      case 'stolen': process.stderr.write(`runpm: stream taken over by ${f.by}\n`); return 1;
      case 'detached': process.stderr.write(`runpm: detached by another client; session ${id} keeps running\n`); return 0;
    }
  }
  return statusAfterEnd(c, id);
}

async function followPipe(c: DaemonClient, id: string, stream: 'stdout' | 'stderr', steal: boolean): Promise<number> {
  const att = await c.attachPipe(id, { stream, steal });
  if (att.bytesMissed > 0) process.stderr.write(`runpm: [${att.bytesMissed} bytes dropped before this output]\n`);
  await writeOut(att.backlog);
  for await (const f of att) {
    switch (f.kind) {
      case 'bytes': await writeOut(f.data); break;
      case 'missed': process.stderr.write(`runpm: [missed ${f.bytes} bytes]\n`); break;
      case 'exit': return exitStatusOf(f.code).exitCode;
      // The stream closed before the exit was known: the status comes with the exit.
      case 'eof': return statusAfterEnd(c, id);
      case 'error': process.stderr.write(`runpm: ${f.message}\n`); return 1;
      case 'stolen': process.stderr.write(`runpm: stream taken over by ${f.by}\n`); return 1;
      case 'detached': process.stderr.write(`runpm: detached by another client; session ${id} keeps running\n`); return 0;
    }
  }
  return statusAfterEnd(c, id);
}

export function registerOutputCommand(program: Command): void {
  program.command('output')
    .description('print a session\'s buffered output (stdout unless --stderr); --follow prints on until it ends and exits with its status')
    .argument('<id>', 'session id')
    .option('--stderr', 'the stderr stream', false)
    .option('--follow', 'attach and print live output until the stream ends; exit with the session\'s status', false)
    .option('--steal', 'with --follow: take the stream over from another attached client', false)
    .action(action(async (id: string, opts: { stderr: boolean; follow: boolean; steal: boolean }, cmd: Command) => {
      const stream = opts.stderr ? 'stderr' as const : 'stdout' as const;
      if (!opts.follow) {
        const b = await withClient(cmd, (c) => c.backlog(id, { stream }), { autoStart: false });
        if (b.bytesMissed > 0) process.stderr.write(`runpm: [${b.bytesMissed} bytes dropped before this output]\n`);
        await writeOut(b.backlog);
        return;
      }
      return withClient(cmd, async (c) => (await sessionKindOf(c, id) === 'pty'
        ? followPty(c, id, opts.steal)
        : followPipe(c, id, stream, opts.steal)), { autoStart: false });
    }));
}
