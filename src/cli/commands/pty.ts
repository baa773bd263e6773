// runpm attach and runpm resize for PTY sessions, plus the PTY halves of run/sessions/output/send/kill
// (sessions.ts calls these when a session turns out to be a PTY). Each is one client conversation;
// attach holds its connection until detach, exit, steal or a signal.
import type { Command } from 'commander';
import type { DaemonClient } from '../../client/daemon-client';
import type { PtyReplay } from '../../client/pty-api';
import type { SpawnContextOptions } from '../../client/spawn-context';
import { action, connectFor, emit, globalsOf, withClient } from '../context';
import { DEFAULT_DETACH_KEY, parseDetachKey } from '../terminal-attach';
import { spawnOrStatus } from '../spawn-flags';

function parseSize(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

// The scope's paths as the client resolves them (the daemon's lock file names its pid).
function scopePathsFor(cmd: Command): { lockPath: string } {
  const { resolveScopePaths } = require('../../scope/paths') as typeof import('../../scope/paths');
  const g = globalsOf(cmd);
  return resolveScopePaths({ scope: g.scope, home: g.home, socket: g.socket });
}

function parseReplay(value: string): PtyReplay {
  if (value === 'missed' || value === 'ring' || value === 'screen') return value;
  throw new Error(`--replay must be missed, ring or screen, got ${JSON.stringify(value)}`);
}

/**
 * The size of the terminal runpm was started from: stdout's, else stderr's (ID=$(runpm run --pty ...)
 * captures stdout), else the controlling terminal's; null when there is none.
 */
export function callerTerminalSize(): { rows: number; cols: number } | null {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.isTTY && stream.rows > 0 && stream.columns > 0) return { rows: stream.rows, cols: stream.columns };
  }
  let fd = -1;
  try {
    const fs = require('node:fs') as typeof import('node:fs');
    const tty = require('node:tty') as typeof import('node:tty');
    fd = fs.openSync('/dev/tty', 'r+');
    const [cols, rows] = new tty.WriteStream(fd).getWindowSize();
    return rows > 0 && cols > 0 ? { rows, cols } : null;
  } catch {
    return null; // No controlling terminal (a service, cron, CI).
  } finally {
    if (fd >= 0) {
      try {
        require('node:fs').closeSync(fd);
      } catch {
        // The stream may have closed it.
      }
    }
  }
}

/** "pty" or "pipe" for an id (GetSessionBacklog names the kind); NOT_FOUND for an unknown id. */
export async function sessionKindOf(c: DaemonClient, id: string): Promise<'pty' | 'pipe'> {
  // One byte of an offset read: the kind without the whole backlog crossing the socket.
  return (await c.readOutput(id, { maxBytes: 1 })).sessionKind === 'pty' ? 'pty' : 'pipe';
}

/** `runpm run --pty`: spawns and prints the id (or a record with --json). */
export async function runPtyCommand(cmd: Command, argv: string[], opts: { originator: string; context: SpawnContextOptions; rows?: string; cols?: string }): Promise<number | void> {
  // Started from a terminal, the session gets that terminal's size (like tmux new-session).
  const here = opts.rows === undefined || opts.cols === undefined ? callerTerminalSize() : null;
  const rows = opts.rows === undefined ? here?.rows ?? 0 : parseSize('--rows', opts.rows);
  const cols = opts.cols === undefined ? here?.cols ?? 0 : parseSize('--cols', opts.cols);
  const spawned = await spawnOrStatus(cmd, () => withClient(cmd, (c) => c.spawnPty({
    argv, ...opts.context, originator: opts.originator, rows, cols,
  }), { autoStart: true }));
  if (!spawned.ok) return spawned.status;
  const r = spawned.value;
  emit(cmd, { sessionId: r.sessionId, pid: r.pid, createdAt: r.createdAt, kind: 'pty' }, () => r.sessionId);
}

/** `runpm send` to a PTY: a short non-TTY attach that writes the bytes and detaches. */
export async function sendToPty(c: DaemonClient, id: string, data: Buffer): Promise<number> {
  const att = await c.attachPty(id, { isTty: false });
  att.write(data);
  att.detach();
  for await (const _ of att) { /* until the daemon confirms the detach (or the session ended) */ }
  return data.length;
}

export function registerPtyCommands(program: Command): void {
  program.command('attach')
    .description('attach this terminal to a PTY session (detach with Ctrl-\\ unless --detach-key)')
    .argument('<id>', 'session id')
    .option('--steal', 'take the session over from another attached client', false)
    .option('--replay <mode>', 'what is shown first: screen (the current screen; the default on a terminal), missed (what you have not seen; the default without one) or ring (all buffered)')
    .option('--detach-key <key>', 'detach key in ^X notation, or "none"', '^\\')
    .action(action(async (id: string, opts: { steal: boolean; replay?: string; detachKey: string }, cmd: Command) => {
      const replay = opts.replay === undefined ? undefined : parseReplay(opts.replay);
      const detachKey = opts.detachKey === '^\\' ? DEFAULT_DETACH_KEY : parseDetachKey(opts.detachKey);
      const client = await connectFor(cmd, { autoStart: false });
      let code: number;
      try {
        const { runTerminalAttach } = require('../terminal-attach') as typeof import('../terminal-attach');
        code = await runTerminalAttach(client, {
          sessionId: id, steal: opts.steal, replay, detachKey, lockPath: scopePathsFor(cmd).lockPath,
          // A round trip, not just a connect: a dying daemon's listening socket may still accept.
          daemonAnswers: () => connectFor(cmd, { autoStart: false, callTimeoutMs: 1000 }).then(
            (c) => c.ping().then(() => true, () => false).finally(() => c.close()), () => false),
        });
      } finally {
        client.close();
      }
      // stdin may still hold the event loop (a TTY in flowing mode): leave once stdout is flushed.
      process.stdout.write('', () => process.exit(code));
      return code;
    }));

  program.command('resize')
    .description('resize a PTY session without attaching (0 keeps a dimension)')
    .argument('<id>', 'session id')
    .argument('<rows>', 'rows (0 keeps)')
    .argument('<cols>', 'columns (0 keeps)')
    .action(action(async (id: string, rows: string, cols: string, _opts: unknown, cmd: Command) => {
      const r = parseSize('rows', rows);
      const c = parseSize('cols', cols);
      await withClient(cmd, (client) => client.resizePty(id, r, c), { autoStart: false });
      emit(cmd, { sessionId: id, rows: r, cols: c }, () => '');
    }));
}
