// runpm exec: run a command for an agent — bounded head+tail output, exit code, and a session id
// to pick up later when it outlives the timeout.
import type { Command } from 'commander';
import { StringDecoder } from 'node:string_decoder';
import type { ExecResult } from '../../client/exec-api';
import { action, globalsOf, withClient } from '../context';
import { addSpawnFlags, spawnContextOf, type SpawnFlagValues } from '../spawn-flags';

function nonNegativeInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

/** What runpm exec says on stderr when something still runs at the timeout. */
function stillRunningNote(r: ExecResult, timeout: string): string {
  const id = r.sessionId;
  if (r.exitCode !== null) {
    const n = r.leftoverPids.length;
    return `runpm: the command exited with code ${r.exitCode} but left ${n} process${n === 1 ? '' : 'es'} running (pid ${r.leftoverPids.join(', ')}) `
      + `after ${timeout} ms, in session ${id} (runpm kill ${id} ends them)`;
  }
  return `runpm: still running after ${timeout} ms as session ${id} (runpm output ${id} --follow, runpm kill ${id})`;
}

/** --stream: output written as it arrives (waiting for stdout to drain), or as JSON lines with --json. */
function liveOutput(json: boolean) {
  const decoders = new Map<string, StringDecoder>();
  const write = (out: NodeJS.WriteStream, data: string | Uint8Array): Promise<void> =>
    new Promise((resolve) => (out.write(data) ? resolve() : out.once('drain', resolve)));
  return {
    event: (value: Record<string, unknown>) => write(process.stdout, `${JSON.stringify(value)}\n`),
    output: (stream: string, data: Buffer): Promise<void> => {
      if (!json) return write(stream === 'stderr' ? process.stderr : process.stdout, data);
      let decoder = decoders.get(stream);
      if (!decoder) decoders.set(stream, (decoder = new StringDecoder('utf8')));
      // Whole code points only: a character split across chunks goes out with the next one.
      const text = decoder.write(data);
      return text === '' ? Promise.resolve() : write(process.stdout, `${JSON.stringify({ event: 'output', stream, text })}\n`);
    },
  };
}

export function registerExecCommands(program: Command): void {
  addSpawnFlags(program.command('exec')
    .description('run a command (in your directory and environment), wait up to --timeout, print bounded output; a command still running keeps running')
    .argument('<cmd...>', 'command and arguments (after --)')
    .option('--timeout <ms>', 'how long to wait for exit', '10000'))
    .option('--separate-stderr', 'keep stderr apart instead of merged', false)
    .option('--interactive-env', 'do not set the non-interactive defaults (CI=1, PAGER=cat, ...)', false)
    .option('--head <bytes>', 'bytes kept from the start', '16384')
    .option('--tail <bytes>', 'bytes kept from the end', '16384')
    .option('--stream', 'print output as it arrives (with --json: one JSON event per line, the result last)', false)
    .action(action(async (argv: string[], opts: SpawnFlagValues & { timeout: string; separateStderr: boolean; interactiveEnv: boolean; head: string; tail: string; stream: boolean }, cmd: Command) => {
      const context = spawnContextOf(opts);
      const json = globalsOf(cmd).json === true;
      const live = opts.stream ? liveOutput(json) : null;
      const result = await withClient(cmd, (c) => c.exec({
        argv, ...context, timeoutMs: nonNegativeInt('--timeout', opts.timeout),
        separateStderr: opts.separateStderr, interactiveEnv: opts.interactiveEnv,
        headBytes: nonNegativeInt('--head', opts.head), tailBytes: nonNegativeInt('--tail', opts.tail),
        onStarted: (s) => {
          // At once, on stderr: a caller killed while waiting can still pick the session up.
          process.stderr.write(`runpm: session ${s.sessionId} (pid ${s.pid})\n`);
          if (live && json) live.event({ event: 'started', sessionId: s.sessionId, pid: s.pid });
        },
        onOutput: live ? (stream, data) => live.output(stream, data) : undefined,
      }));
      if (live && json) live.event({ event: 'result', ...result });
      else if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.startError !== undefined) {
        // As a shell reports it: the reason on stderr, the status 127 or 126.
        process.stderr.write(`runpm: ${result.startError}\n`);
      } else {
        if (!live) {
          process.stdout.write(result.output);
          if (result.stderr) process.stderr.write(result.stderr);
        }
        if (result.timedOut) process.stderr.write(`${stillRunningNote(result, opts.timeout)}\n`);
      }
      // Like a shell: the command's exit code; 124 (timeout(1)'s code) when it is still running.
      return result.timedOut ? 124 : result.exitCode ?? 1;
    }));
}
