// exec(): one-shot command for agents. Spawns a pipe session (output held until attached, so the
// head is exact), waits for exit up to a timeout, and returns head + tail bounded, valid UTF-8
// output. A command still running at the timeout keeps running; its session id is returned.
import { DaemonClient } from './daemon-client';
import type { PipeAttachment, PipeStreamName } from './sessions-api';
import { HeadTailCapture, type BoundedOutputOptions } from '../agents/bounded-output';
import { envEntries, type SpawnContextOptions } from './spawn-context';
import { startFailureExitCode } from '../wire/errors';

export const DEFAULT_EXEC_TIMEOUT_MS = 10_000;

/** Environment that keeps tools from prompting or paging (over the caller's environment, beneath `env`). */
export const NON_INTERACTIVE_ENV: ReadonlyArray<{ key: string; value: string }> = [
  { key: 'CI', value: '1' },
  { key: 'TERM', value: 'dumb' },
  { key: 'NO_COLOR', value: '1' },
  { key: 'PAGER', value: 'cat' },
  { key: 'GIT_PAGER', value: 'cat' },
  { key: 'GIT_EDITOR', value: 'true' },
  { key: 'EDITOR', value: 'true' },
  { key: 'VISUAL', value: 'true' },
  { key: 'GIT_TERMINAL_PROMPT', value: '0' },
  { key: 'DEBIAN_FRONTEND', value: 'noninteractive' },
  { key: 'PIP_NO_INPUT', value: '1' },
  { key: 'npm_config_yes', value: 'true' },
];

/**
 * A command for exec(): like a child of this process (its cwd and environment, see
 * SpawnContextOptions), with the non-interactive set over the environment and `env` over that.
 */
export interface ExecOptions extends BoundedOutputOptions, SpawnContextOptions {
  argv: string[];
  /** Milliseconds to wait for exit (default 10 s). */
  timeoutMs?: number;
  /** Keep stderr apart (default: merged into output). */
  separateStderr?: boolean;
  /** Skip the non-interactive environment defaults. */
  interactiveEnv?: boolean;
  originator?: string;
}

export interface ExecResult {
  /** Exited with code 0 before the timeout. */
  success: boolean;
  /** Null while still running (timed out). Negative = killed by that signal number. */
  exitCode: number | null;
  timedOut: boolean;
  wallDurationMs: number;
  /** stdout (with stderr merged unless separateStderr), bounded and valid UTF-8. */
  output: string;
  /** stderr, when separateStderr. */
  stderr?: string;
  truncated: boolean;
  /** Bytes left out of output (head/tail cut and missed while reading). */
  omittedBytes: number;
  totalBytes: number;
  /** Id of the session; still running when timedOut (read it later with output/attach). "" when it never started. */
  sessionId: string;
  /** 0 when it never started. */
  pid: number;
  /** Why the command could not start (exitCode 127 or 126, as a shell reports it); absent when it ran. */
  startError?: string;
}

type StreamEnding = { kind: 'exit'; code: number } | { kind: 'eof' } | { kind: 'closed' } | { kind: 'error'; message: string };

/** Reads one attachment into a capture until its terminal frame. */
async function drain(att: PipeAttachment, capture: HeadTailCapture): Promise<StreamEnding> {
  capture.skip(att.bytesMissed);
  if (att.backlog.length > 0) capture.push(att.backlog);
  for await (const frame of att) {
    switch (frame.kind) {
      case 'bytes': capture.push(frame.data); break;
      case 'missed': capture.skip(frame.bytes); break;
      case 'exit': return { kind: 'exit', code: frame.code };
      case 'eof': return { kind: 'eof' };
      case 'error': return { kind: 'error', message: frame.message };
      case 'stolen': return { kind: 'error', message: `stolen by ${frame.by}` };
    }
  }
  return { kind: 'closed' };
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * Runs a command to completion (or until `timeoutMs`) and returns LLM-ready bounded output.
     * A command still running at the timeout keeps running in the daemon; `sessionId` names it.
     */
    exec(opts: ExecOptions): Promise<ExecResult>;
  }
}

DaemonClient.prototype.exec = async function (this: DaemonClient, opts: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const env = [...(opts.interactiveEnv ? [] : NON_INTERACTIVE_ENV), ...envEntries(opts.env)];
  // Spawned attached to stdout (one round trip); a separate stderr is held until its own attach.
  const spawning = this.spawnPipeAttached({
    argv: opts.argv, cwd: opts.cwd, env, environmentPolicy: opts.environmentPolicy, callerEnv: opts.callerEnv,
    clearInheritedEnv: opts.clearInheritedEnv, mergeStderr: !opts.separateStderr,
    originator: opts.originator ?? `exec:${process.pid}`, holdOutputUntilAttached: true,
  }, { stream: 'stdout' });
  let spawned: Awaited<typeof spawning>;
  try {
    spawned = await spawning;
  } catch (err) {
    const exitCode = startFailureExitCode(err);
    if (exitCode === null) throw err;
    return startFailureResult((err as Error).message, exitCode, Math.round(performance.now() - started), opts.separateStderr === true);
  }
  const sessionId = spawned.sessionId;
  const names: PipeStreamName[] = opts.separateStderr ? ['stdout', 'stderr'] : ['stdout'];
  const [, stderrAttachment] = await Promise.all([
    // Non-interactive: stdin is closed at once, so a prompt reads EOF instead of hanging.
    this.writeStdin(sessionId, Buffer.alloc(0), { close: true }).catch(() => {}),
    opts.separateStderr ? this.attachPipe(sessionId, { stream: 'stderr' }) : null,
  ]);
  const attachments = stderrAttachment ? [spawned.attachment, stderrAttachment] : [spawned.attachment];
  const captures = names.map(() => new HeadTailCapture(opts));
  const endings = Promise.all(attachments.map((a, i) => drain(a, captures[i])));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    endings.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  let exitCode: number | null = null;
  if (timedOut) {
    for (const a of attachments) a.close();
  } else {
    const ends = await endings;
    const exit = ends.find((e): e is { kind: 'exit'; code: number } => e.kind === 'exit');
    exitCode = exit ? exit.code : await waitForExitCode(this, sessionId, started + timeoutMs);
  }
  const rendered = captures.map((c) => c.render());
  return {
    success: !timedOut && exitCode === 0,
    exitCode: timedOut ? null : exitCode,
    timedOut,
    wallDurationMs: Math.round(performance.now() - started),
    output: rendered[0].text,
    ...(opts.separateStderr ? { stderr: rendered[1].text } : {}),
    truncated: rendered.some((r) => r.truncated),
    omittedBytes: rendered.reduce((n, r) => n + r.omittedBytes, 0),
    totalBytes: rendered.reduce((n, r) => n + r.totalBytes, 0),
    sessionId,
    pid: spawned.pid,
  };
};

/** A command that could not start, as a result: the shell's exit status and message (on stderr, so in output when merged). */
function startFailureResult(message: string, exitCode: number, wallDurationMs: number, separateStderr: boolean): ExecResult {
  const text = `${message}\n`;
  return {
    success: false, exitCode, timedOut: false, wallDurationMs,
    output: separateStderr ? '' : text,
    ...(separateStderr ? { stderr: text } : {}),
    truncated: false, omittedBytes: 0, totalBytes: Buffer.byteLength(text), sessionId: '', pid: 0, startError: message,
  };
}

/** After stdout ended with EOF, the exit code comes from the session record (polled to a deadline). */
async function waitForExitCode(client: DaemonClient, sessionId: string, deadlineMs: number): Promise<number | null> {
  for (;;) {
    const b = await client.backlog(sessionId);
    if (b.exited) return b.exitCode;
    if (performance.now() > deadlineMs) return null;
    await new Promise((r) => setTimeout(r, 10));
  }
}
