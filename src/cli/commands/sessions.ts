// runpm run --pipe, sessions, output, send, kill, purge: detachable pipe sessions from the shell.
// Each command is one short client conversation; `output --follow` holds an attachment until
// its terminal frame.
import type { Command } from 'commander';
import { action, emit, withClient } from '../context';
import { runPtyCommand, sendToPty, sessionKindOf } from './pty';
import { registerOutputCommand } from './output';
import { addSpawnFlags, spawnContextOf, spawnOrStatus, type SpawnFlagValues } from '../spawn-flags';
import { parseSignal } from '../../sessions/signal-names';
import { NotFoundError } from '../../wire/errors';
import { pb } from '../../wire/proto';
import { describeExitStatus, exitStatusOf } from '../../client/exit-status';

function parseGrace(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`--grace must be a non-negative integer of milliseconds, got ${JSON.stringify(value)}`);
  return n;
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Exited, and nothing it left behind still runs. */
function isDone(s: { exited: boolean; leftoverPids: number[] }): boolean {
  return s.exited && s.leftoverPids.length === 0;
}

/** NATURAL_EXIT, SOFT_EXIT or HARD_KILLED (the wire enum's name), null while the session runs. */
function outcomeName(value: number): string | null {
  const name = pb.TerminationOutcome[value] as string | undefined;
  return !name || value === 0 ? null : name.replace(/^TERMINATION_OUTCOME_/, '');
}

function age(createdAt: number): string {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - createdAt));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

export function registerSessionCommands(program: Command): void {
  addSpawnFlags(program.command('run')
    .description('start a detachable session running CMD (in your directory and environment) and print its id'))
    .option('--pipe', 'pipe session: stdin/stdout/stderr are pipes', false)
    .option('--pty', 'PTY session: the command runs on a pseudo-terminal (attach with runpm attach)', false)
    .option('--rows <n>', 'with --pty: terminal rows (default 24)')
    .option('--cols <n>', 'with --pty: terminal columns (default 80)')
    .option('--originator <tag>', 'tag the session (filters list/purge)', '')
    .option('--merge-stderr', 'send stderr into stdout', false)
    .argument('<cmd...>', 'command and arguments (put them after --)')
    .action(action(async (cmdArgs: string[], opts: SpawnFlagValues & { pipe: boolean; pty: boolean; rows?: string; cols?: string; originator: string; mergeStderr: boolean }, cmd: Command) => {
      if (opts.pipe === opts.pty) throw new Error('runpm run needs one session kind: --pipe or --pty');
      const context = spawnContextOf(opts);
      if (opts.pty) return runPtyCommand(cmd, cmdArgs, { ...opts, context });
      const spawned = await spawnOrStatus(cmd, () => withClient(cmd, (c) => c.spawnPipe({
        argv: cmdArgs, ...context, originator: opts.originator, mergeStderr: opts.mergeStderr,
      }), { autoStart: true }));
      if (!spawned.ok) return spawned.status;
      const r = spawned.value;
      emit(cmd, { sessionId: r.sessionId, pid: r.pid, createdAt: r.createdAt, kind: 'pipe' }, () => r.sessionId);
    }));

  program.command('sessions')
    .description('list pipe and PTY sessions')
    .option('--originator <tag>', 'only this originator\'s sessions', '')
    .action(action(async (opts: { originator: string }, cmd: Command) => {
      const [pipes, ptys] = await withClient(cmd, (c) => Promise.all([c.listPipes(opts.originator), c.listPtys(opts.originator)]), { autoStart: false });
      const list = [...pipes.map((s) => ({ kind: 'pipe' as const, ...s })), ...ptys.map((s) => ({ kind: 'pty' as const, ...s }))]
        // Running first (with exited ones whose leftovers still run), newest first within each.
        .sort((a, b) => Number(isDone(a)) - Number(isDone(b)) || b.createdAt - a.createdAt);
      // The JSON says the termination path by name, as session.exited events do (null while running).
      const json = list.map((s) => ({ ...s, terminationOutcome: outcomeName(s.terminationOutcome) }));
      emit(cmd, json, () => {
        if (list.length === 0) return 'no sessions';
        const rows = list.map((s) => [
          s.sessionId, s.kind, String(s.pid), s.exited ? `exited ${describeExitStatus({ exitCode: s.exitCode!, signal: s.signal })}${s.leftoverPids.length > 0 ? ` +${s.leftoverPids.length} left` : ''}` : 'running', age(s.createdAt),
          s.kind === 'pty' ? `${s.attached ? (s.attachedIsTty ? 'tty' : 'stream') : '-'} ${s.rows}x${s.cols}`
            : [s.stdoutAttached ? 'out' : '', s.stderrAttached ? 'err' : ''].filter(Boolean).join('+') || '-',
          s.originator || '-', s.command,
        ]);
        const head = ['ID', 'KIND', 'PID', 'STATE', 'AGE', 'ATTACHED', 'ORIGINATOR', 'COMMAND'];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
      });
    }));

  registerOutputCommand(program);

  program.command('send')
    .description('write DATA (or stdin with "-") to a session\'s stdin')
    .argument('<id>', 'session id')
    .argument('[data]', 'bytes to send; "-" reads stdin', '')
    .option('--close', 'close the session\'s stdin after the data', false)
    .action(action(async (id: string, data: string, opts: { close: boolean }, cmd: Command) => {
      const bytes = data === '-' ? await readAllStdin() : Buffer.from(data);
      const n = await withClient(cmd, async (c) => (await sessionKindOf(c, id) === 'pty'
        ? sendToPty(c, id, bytes)
        : c.writeStdin(id, bytes, { close: opts.close })), { autoStart: false });
      emit(cmd, { bytesWritten: n, closed: opts.close }, () => '');
    }));

  program.command('kill')
    .description('terminate a session: SIGTERM to its process group, SIGKILL to the tree after the grace; or send one --signal. Without an id: pm2\'s kill (every service stopped and deleted, then the daemon stops)')
    .argument('[id]', 'session id')
    .option('--grace <ms>', 'grace before SIGKILL (default 2000)')
    .option('--signal <sig>', 'send only this signal (INT, TERM, KILL, HUP, USR1, ... or a number) to the session\'s processes')
    .action(action(async (id: string | undefined, opts: { grace?: string; signal?: string }, cmd: Command) => {
      if (id === undefined) {
        if (opts.grace !== undefined || opts.signal !== undefined) throw new Error('kill without a session id stops the daemon (pm2 kill); --grace and --signal go with a session id');
        return (require('./services') as typeof import('./services')).killDaemon(cmd);
      }
      const graceMs = parseGrace(opts.grace);
      const signal = opts.signal === undefined ? undefined : parseSignal(opts.signal, '--signal');
      if (signal !== undefined && opts.grace !== undefined) throw new Error('--grace goes with the SIGTERM schedule, not with --signal');
      const r = await withClient(cmd, async (c) => (await sessionKindOf(c, id) === 'pty'
        ? c.terminatePty(id, graceMs, { signal })
        : c.terminate(id, graceMs, { signal })), { autoStart: false });
      if (r.processesSignalled === 0) {
        // Like kill(1) of a pid that is gone: an error, not a silent success.
        throw new NotFoundError(`session ${id} has already exited (exit status ${describeExitStatus(exitStatusOf(r.exitCode))}) and left nothing running: nothing to kill`);
      }
      emit(cmd, { sessionId: id, signal: signal ?? 'SIGTERM', processesSignalled: r.processesSignalled, alreadyExited: r.alreadyExited }, () => '');
    }));

  program.command('purge')
    .description('forget exited sessions and their buffered output')
    .option('--originator <tag>', 'only this originator\'s sessions', '')
    .action(action(async (opts: { originator: string }, cmd: Command) => {
      const r = await withClient(cmd, (c) => c.purge(opts.originator), { autoStart: false });
      emit(cmd, r, () => `purged ${r.pipePurged} pipe and ${r.ptyPurged} pty sessions`);
    }));
}
