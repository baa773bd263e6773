// runpm wait ID [--timeout S]: a shell's `wait` for a daemon session. Exits with the session's
// status as a shell reports it (128 + n for a signal), 124 when the timeout passes first (as
// timeout(1)), 127 for an id no session has (as bash's `wait` for a pid that is not its child).
import type { Command } from 'commander';
import { action, emit, withClient } from '../context';
import { describeExitStatus } from '../../client/exit-status';
import { NotFoundError } from '../../wire/errors';

/** Exit status of `runpm wait` when the timeout passed first (timeout(1)'s). */
export const WAIT_TIMED_OUT = 124;
/** Exit status of `runpm wait` for an unknown session (bash: `wait` of a pid that is not its child). */
export const WAIT_UNKNOWN_SESSION = 127;

/** Seconds as the user writes them ("30", "1.5", "500ms", "2m") in milliseconds. */
export function parseSeconds(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new Error(`${flag} must be a number of seconds (or with a unit: 500ms, 2s, 1m), got ${JSON.stringify(value)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.ceil(Number(m[1]) * unit);
}

export function registerWaitCommands(program: Command): void {
  program.command('wait')
    .description('wait for a session to end (and what it left running) and exit with its status, like a shell\'s wait')
    .argument('<id>', 'session id')
    .option('--timeout <seconds>', 'give up after this long (exit 124; the session keeps running)')
    .option('--leader-only', 'return when the command itself exits, even if processes it left still run', false)
    .action(action(async (id: string, opts: { timeout?: string; leaderOnly: boolean }, cmd: Command) => {
      const timeoutMs = opts.timeout === undefined ? 0 : parseSeconds(opts.timeout, '--timeout');
      if (opts.timeout !== undefined && timeoutMs === 0) throw new Error('--timeout must be more than 0 (leave it out to wait for ever)');
      let r;
      try {
        r = await withClient(cmd, (c) => c.waitForExit(id, { timeoutMs, leaderOnly: opts.leaderOnly }), { autoStart: false });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        process.stderr.write(`runpm: wait: ${err.message}\n`);
        return WAIT_UNKNOWN_SESSION;
      }
      emit(cmd, r, () => '');
      if (r.timedOut) {
        const what = r.exited
          ? `session ${id} exited (${describeExitStatus({ exitCode: r.exitCode!, signal: r.signal })}) but what it left still runs (pid ${r.leftoverPids.join(', ')})`
          : `session ${id} still runs`;
        const after = /^[\d.]+$/.test(opts.timeout!.trim()) ? `${opts.timeout!.trim()} s` : opts.timeout!.trim();
        process.stderr.write(`runpm: wait: ${what} after ${after}; runpm kill ${id} ends it\n`);
        return WAIT_TIMED_OUT;
      }
      return r.exitCode ?? 1;
    }));
}
