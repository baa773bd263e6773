// Black-box: `runpm output` reads by offset and consumes nothing (issue 15.3), `--json output
// --since N` is a polling loop's record, `--head-tail` is exec's bounded view of a background
// session and `client.readOutput({ sessionId, since, headTail })` its library form (issue 16.4).
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPM, runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** A runpm command that runs while the test goes on. */
function startCli(args: string[], env: NodeJS.ProcessEnv): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdout: () => string } {
  const child = spawn(process.execPath, [RUNPM, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))), stdout: () => stdout };
}

async function runSession(env: NodeJS.ProcessEnv, argv: string[], kind = '--pipe'): Promise<string> {
  const r = await runCli(['run', kind, '--', ...argv], env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

interface OutputRecord {
  sessionId: string; kind: string; stream: string; output: string; startOffset: number; endOffset: number; droppedBytes: number;
  totalBytes: number; ended: boolean; exited: boolean; exitCode: number | null; signal: string | null; truncated: boolean; omittedBytes: number;
}

describe('runpm output consumes nothing', () => {
  it('output, a follower and a second follower all see every byte; each follow exits with the status', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    // Gated on stdin: nothing more is written until the followers are in place.
    const id = await runSession(env, ['sh', '-c', 'echo one; read x; echo two; exit 6']);
    await waitFor(async () => (await runCli(['output', id], env)).stdout === 'one\n', 'the first line');
    const first = startCli(['output', id, '--follow'], env);
    await waitFor(() => first.stdout() === 'one\n', 'the follower to print the retained start');
    // Reading while a follower holds the stream takes nothing from it, and a second follower
    // (the stream's attachment is the first one's) reads by offset on its own.
    expect((await runCli(['output', id], env)).stdout).toBe('one\n');
    const second = startCli(['output', id, '--follow'], env);
    await waitFor(() => second.stdout() === 'one\n', 'the second follower');
    expect((await runCli(['send', id, 'go\n'], env)).code).toBe(0);
    expect(await first.done).toEqual({ code: 6, stdout: 'one\ntwo\n', stderr: '' });
    expect(await second.done).toEqual({ code: 6, stdout: 'one\ntwo\n', stderr: '' });
    // Again and again: the same bytes.
    for (let i = 0; i < 2; i++) {
      expect(await runCli(['output', id], env)).toEqual({ code: 0, stdout: 'one\ntwo\n', stderr: '' });
      expect(await runCli(['output', id, '--follow'], env)).toEqual({ code: 6, stdout: 'one\ntwo\n', stderr: '' });
    }
    expect((await runCli(['output', id, '--since', '4'], env)).stdout).toBe('two\n');
    expect((await runCli(['output', id, '--since', '4', '--follow'], env)).stdout).toBe('two\n');
    expect((await runCli(['output', id, '--max-bytes', '3'], env)).stdout).toBe('one');
  });

  it('--json output --since N: a polling loop concatenates to the exact output, split characters included', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    // é is two bytes and each line 5: reads of 44 bytes come to end inside a character.
    const id = await runSession(env, ['python3', '-c', 'import sys, time\nfor i in range(60):\n    print(f"é{i:02d}", flush=True)\n    time.sleep(0.005)\nsys.exit(2)']);
    const expected = Array.from({ length: 60 }, (_, i) => `é${String(i).padStart(2, '0')}\n`).join('');
    let since = 0;
    let text = '';
    let last: OutputRecord | null = null;
    for (let polls = 0; polls < 2000; polls++) {
      const r = await runCli(['--json', 'output', id, '--since', String(since), '--max-bytes', '44'], env);
      expect(r.code, r.stderr).toBe(0);
      last = JSON.parse(r.stdout) as OutputRecord;
      expect(last.startOffset).toBe(since);
      expect(last.droppedBytes).toBe(0);
      text += last.output;
      since = last.endOffset;
      if (last.ended) break;
    }
    expect(text).toBe(expected);
    expect(Object.keys(last!).sort()).toEqual(['droppedBytes', 'endOffset', 'ended', 'exitCode', 'exited', 'kind', 'omittedBytes', 'output',
      'sessionId', 'signal', 'startOffset', 'stream', 'totalBytes', 'truncated']);
    expect(last).toMatchObject({ sessionId: id, kind: 'pipe', stream: 'stdout', ended: true, exited: true, exitCode: 2, signal: null, endOffset: Buffer.byteLength(expected), totalBytes: Buffer.byteLength(expected) });
  });

  it('a PTY session reads and follows the same way', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const id = await runSession(env, ['sh', '-c', 'echo pty-out; exit 9'], '--pty');
    const followed = await runCli(['output', id, '--follow'], env);
    expect({ code: followed.code, stdout: followed.stdout.replace(/\r/g, '') }).toEqual({ code: 9, stdout: 'pty-out\n' });
    const rec = JSON.parse((await runCli(['--json', 'output', id], env)).stdout) as OutputRecord;
    expect(rec).toMatchObject({ kind: 'pty', stream: 'output', output: 'pty-out\r\n', exited: true, exitCode: 9, startOffset: 0 });
  });

  it('says what the ring no longer holds, on stderr, with the offsets', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(64 * 1024)] });
    const env = daemon.env;
    const id = await runSession(env, ['seq', '1', '30000']);
    const total = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('').length;
    await waitFor(async () => JSON.parse((await runCli(['--json', 'output', id], env)).stdout).ended === true, 'the end');
    const r = await runCli(['output', id], env);
    expect(r.stdout.length).toBe(64 * 1024);
    expect(r.stderr).toBe(`runpm: [${total - 64 * 1024} older bytes are no longer held; this output starts at offset ${total - 64 * 1024}]\n`);
    const from = await runCli(['output', id, '--since', '10'], env);
    expect(from.stderr).toBe(`runpm: [${total - 64 * 1024 - 10} bytes from offset 10 on are no longer held; this output starts at offset ${total - 64 * 1024}]\n`);
    const rec = JSON.parse((await runCli(['--json', 'output', id, '--since', '10'], env)).stdout) as OutputRecord;
    expect(rec).toMatchObject({ droppedBytes: total - 64 * 1024 - 10, startOffset: total - 64 * 1024, endOffset: total, exitCode: 0 });
  });

  it('refuses bad offsets and flags, naming them', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const id = await runSession(env, ['printf', 'hello']);
    await waitFor(async () => (await runCli(['output', id], env)).stdout === 'hello', 'the output');
    const cases: Array<[string[], RegExp]> = [
      [['--since', '-1'], /^runpm: --since must be a non-negative integer, got "-1"\n$/],
      [['--since', 'x'], /^runpm: --since must be a non-negative integer, got "x"\n$/],
      [['--since', '6'], /^runpm: from_offset 6 is past the end of stdout of session .* \(5 bytes so far\) \(INVALID_ARGUMENT\)\n$/],
      [['--max-bytes', '0'], /^runpm: --max-bytes must be at least 1/],
      [['--head-tail', '0'], /^runpm: --head-tail must keep at least 1 byte\n$/],
      [['--head-tail', '10', '--follow'], /^runpm: --follow prints everything: it does not go with --head-tail or --max-bytes\n$/],
      [['--steal'], /^runpm: --steal goes with --follow\n$/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(['output', id, ...flags], env);
      expect({ code: r.code, stdout: r.stdout }, flags.join(' ')).toEqual({ code: 1, stdout: '' });
      expect(r.stderr, flags.join(' ')).toMatch(message);
    }
    const unknown = await runCli(['output', 'nope'], env);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/no session with id "nope".*\(NOT_FOUND\)\n$/);
  });
});

describe('--head-tail: exec\'s bounded view of a background session', () => {
  it('shows head and tail exactly as exec shows the same command, with the omitted count, in CLI, JSON and library', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const argv = ['seq', '1', '100000'];
    const exec = await runCli(['--json', 'exec', '--head', '500', '--tail', '500', '--', ...argv], env);
    const execResult = JSON.parse(exec.stdout) as { output: string; omittedBytes: number; truncated: boolean };
    const id = await runSession(env, argv);
    await waitFor(async () => JSON.parse((await runCli(['--json', 'output', id, '--max-bytes', '1'], env)).stdout).exited === true, 'the exit');
    const view = await runCli(['output', id, '--head-tail', '1000'], env);
    expect(view.code).toBe(0);
    expect(view.stdout).toBe(execResult.output);
    expect(view.stdout.startsWith('1\n2\n3\n')).toBe(true);
    expect(view.stdout.endsWith('99999\n100000\n')).toBe(true);
    expect(view.stdout).toMatch(/\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/);

    const rec = JSON.parse((await runCli(['--json', 'output', id, '--head-tail', '1000'], env)).stdout) as OutputRecord;
    const total = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('').length;
    expect(rec).toMatchObject({ output: execResult.output, truncated: true, omittedBytes: execResult.omittedBytes, startOffset: 0, endOffset: total, ended: true, exitCode: 0 });

    const lib = await daemon.client.readOutput({ sessionId: id, headTail: 1000 });
    expect(lib).toMatchObject({ text: execResult.output, truncated: true, omittedBytes: execResult.omittedBytes, startOffset: 0, endOffset: total, exited: true, exitCode: 0, signal: null });
    // From an offset: the view of what came after it (a poller's "what is new", bounded).
    const since = total - 13;
    const after = await daemon.client.readOutput({ sessionId: id, since, headTail: true });
    expect(after).toMatchObject({ text: '99999\n100000\n', truncated: false, omittedBytes: 0, startOffset: since, endOffset: total });
    // The default budget is exec's: 16 KiB of head, 16 KiB of tail.
    const dflt = await runCli(['output', id, '--head-tail'], env);
    const execDefault = JSON.parse((await runCli(['--json', 'exec', '--', ...argv], env)).stdout) as { output: string };
    expect(dflt.stdout).toBe(execDefault.output);
  });

  it('marks bytes the ring no longer holds at the top of the view', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(64 * 1024)] });
    const env = daemon.env;
    const id = await runSession(env, ['seq', '1', '30000']);
    await daemon.client.waitForExit(id);
    const total = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('').length;
    const view = await runCli(['output', id, '--head-tail', '100'], env);
    expect(view.stdout.startsWith(`[... ${total - 64 * 1024} earlier bytes no longer held ...]\n`)).toBe(true);
    expect(view.stdout.endsWith('29999\n30000\n')).toBe(true);
  });
});
