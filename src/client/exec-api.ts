// exec(): one-shot command for agents. Spawns a pipe session (output held until attached, so the
// head is exact), waits for exit up to a timeout, and returns head + tail bounded, valid UTF-8
// output. A command still running at the timeout keeps running; its session id is returned.
import { DaemonClient } from './daemon-client';
import type { PipeAttachment, PipeStreamName } from './sessions-api';
import { HeadTailCapture, type BoundedOutputOptions } from '../agents/bounded-output';
import { envEntries, type SpawnContextOptions } from './spawn-context';
import { startFailureExitCode } from '../wire/errors';
import { exitStatusOf, type SessionExit } from './exit-status';

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
  /** Called once the session exists (before any output is read): its id and the command's pid. */
  onStarted?: (session: { sessionId: string; pid: number }) => void;
  /**
   * Sees every chunk of output as it arrives (for streaming it live; a returned promise holds the
   * next chunk back until it settles). The result is bounded still.
   */
  onOutput?: (stream: PipeStreamName, data: Buffer) => void | Promise<void>;
}

export interface ExecResult {
  /** Exited with code 0 before the timeout, leaving nothing running. */
  success: boolean;
  /**
   * As a shell reports it: the exit code, 128 + n when signal n killed it (see `signal`), 127 / 126
   * when it could not start; null while the command itself still runs (timed out).
   */
  exitCode: number | null;
  /** The signal that killed the command ("SIGKILL"), null when it exited or still runs. */
  signal: string | null;
  /** The command, or what it left in its group or session, still ran at the timeout. */
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
  /**
   * Processes the command left running in its process group or session at the timeout (they are
   * part of the session: `runpm kill` ends them); [] when everything finished.
   */
  leftoverPids: number[];
  /** Why the command could not start (exitCode 127 or 126, as a shell reports it); absent when it ran. */
  startError?: string;
}

type StreamEnding = { kind: 'exit'; code: number } | { kind: 'eof' } | { kind: 'closed' } | { kind: 'error'; message: string };

/** Reads one attachment into a capture until its terminal frame; onBytes sees every chunk as it comes. */
async function drain(att: PipeAttachment, capture: HeadTailCapture, onBytes?: (data: Buffer) => void | Promise<void>): Promise<StreamEnding> {
  capture.skip(att.bytesMissed);
  if (att.backlog.length > 0) {
    capture.push(att.backlog);
    await onBytes?.(Buffer.from(att.backlog));
  }
  for await (const frame of att) {
    switch (frame.kind) {
      case 'bytes':
        capture.push(frame.data);
        // A slow consumer holds the next frame back (and the daemon then the child): nothing queues here.
        await onBytes?.(frame.data);
        break;
      case 'missed': capture.skip(frame.bytes); break;
      case 'exit': return { kind: 'exit', code: frame.code };
      case 'eof': return { kind: 'eof' };
      case 'error': return { kind: 'error', message: frame.message };
      case 'stolen': return { kind: 'error', message: `stolen by ${frame.by}` };
      case 'detached': return { kind: 'error', message: 'detached by another client (DETACH_PIPE_STREAM)' };
    }
  }
  return { kind: 'closed' };
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * Runs a command to completion (or until `timeoutMs`) and returns LLM-ready bounded output.
     * Completion includes what the command leaves running in its process group or session (a
     * shell's `cmd &`): exec waits for those too, and reports the ones still running at the
     * timeout in `leftoverPids`. A command still running at the timeout keeps running in the
     * daemon; `sessionId` names it (and `onStarted` hands it over as soon as it exists).
     */
    exec(opts: ExecOptions): Promise<ExecResult>;
  }
}

/** How often exec looks whether the leftovers of an exited command are gone. */
const LEFTOVER_POLL_MS = 50;

/** The session's exit and leftovers now (LIST_PIPE_SESSIONS of exec's originator), or null when it is gone. */
async function sessionState(client: DaemonClient, sessionId: string, originator: string): Promise<(SessionExit & { exited: boolean; leftoverPids: number[] }) | null> {
  const s = (await client.listPipes(originator)).find((x) => x.sessionId === sessionId);
  return s ? { exited: s.exited, exitCode: s.exitCode, signal: s.signal, leftoverPids: [...s.leftoverPids] } : null;
}

DaemonClient.prototype.exec = async function (this: DaemonClient, opts: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const deadline = started + timeoutMs;
  const originator = opts.originator ?? `exec:${process.pid}`;
  const env = [...(opts.interactiveEnv ? [] : NON_INTERACTIVE_ENV), ...envEntries(opts.env)];
  // Spawned attached to stdout (one round trip); a separate stderr is held until its own attach.
  const spawning = this.spawnPipeAttached({
    argv: opts.argv, cwd: opts.cwd, env, environmentPolicy: opts.environmentPolicy, callerEnv: opts.callerEnv,
    clearInheritedEnv: opts.clearInheritedEnv, mergeStderr: !opts.separateStderr,
    originator, holdOutputUntilAttached: true,
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
  // Before anything else: a caller killed while waiting still knows what to pick up or kill.
  opts.onStarted?.({ sessionId, pid: spawned.pid });
  const names: PipeStreamName[] = opts.separateStderr ? ['stdout', 'stderr'] : ['stdout'];
  const [, stderrAttachment] = await Promise.all([
    // Non-interactive: stdin is closed at once, so a prompt reads EOF instead of hanging.
    this.writeStdin(sessionId, Buffer.alloc(0), { close: true }).catch(() => {}),
    opts.separateStderr ? this.attachPipe(sessionId, { stream: 'stderr' }) : null,
  ]);
  const attachments = stderrAttachment ? [spawned.attachment, stderrAttachment] : [spawned.attachment];
  const captures = names.map(() => new HeadTailCapture(opts));
  const onOutput = opts.onOutput;
  const endings = Promise.all(attachments.map((a, i) => drain(a, captures[i], onOutput && ((data) => onOutput(names[i], data)))));
  let timer: NodeJS.Timeout | undefined;
  let timedOut = await Promise.race([
    endings.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  let exit: SessionExit = { exitCode: null, signal: null };
  let leftoverPids: number[] = [];
  if (timedOut) {
    for (const a of attachments) a.close();
    // The leader may have exited while what it left holds the output open.
    const state = await sessionState(this, sessionId, originator);
    if (state?.exited) exit = state;
    leftoverPids = state?.leftoverPids ?? [];
  } else {
    const ends = await endings;
    const exitFrame = ends.find((e): e is { kind: 'exit'; code: number } => e.kind === 'exit');
    const framed = exitFrame ? exitStatusOf(exitFrame.code) : null;
    // What the command left in its group or session counts: wait for it up to the deadline.
    for (;;) {
      const state = await sessionState(this, sessionId, originator);
      if (!state) break;
      if (state.exited) {
        exit = framed ?? state;
        leftoverPids = state.leftoverPids;
        if (leftoverPids.length === 0) break;
      }
      if (performance.now() >= deadline) {
        timedOut = true;
        break;
      }
      await new Promise((r) => setTimeout(r, LEFTOVER_POLL_MS));
    }
    if (exit.exitCode === null && framed) exit = framed;
  }
  const rendered = captures.map((c) => c.render());
  return {
    success: !timedOut && exit.exitCode === 0,
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut,
    wallDurationMs: Math.round(performance.now() - started),
    output: rendered[0].text,
    ...(opts.separateStderr ? { stderr: rendered[1].text } : {}),
    truncated: rendered.some((r) => r.truncated),
    omittedBytes: rendered.reduce((n, r) => n + r.omittedBytes, 0),
    totalBytes: rendered.reduce((n, r) => n + r.totalBytes, 0),
    sessionId,
    pid: spawned.pid,
    leftoverPids,
  };
};

/** A command that could not start, as a result: the shell's exit status and message (on stderr, so in output when merged). */
function startFailureResult(message: string, exitCode: number, wallDurationMs: number, separateStderr: boolean): ExecResult {
  const text = `${message}\n`;
  return {
    success: false, exitCode, signal: null, timedOut: false, wallDurationMs,
    output: separateStderr ? '' : text,
    ...(separateStderr ? { stderr: text } : {}),
    truncated: false, omittedBytes: 0, totalBytes: Buffer.byteLength(text), sessionId: '', pid: 0, leftoverPids: [], startError: message,
  };
}
