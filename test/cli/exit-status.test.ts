// Black-box: the exit status of a session told one way everywhere (issue 15.3/15.4): the shell's
// number (128 + n for signal n) plus the signal's name, in `output --follow`'s and `wait`'s exit
// status, the sessions table and JSON, `events`, exec and the library; and a CLI whose reader goes
// away (`| head`) ends quietly as a shell tool does (141, no stack).
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPM, runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Runs a bash line with $RUNPM set; stdout, stderr and status. */
function bash(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { env: { ...env, RUNPM: RUNPM }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What sh itself reports for the same command ($? after it). */
function shellStatus(script: string): number {
  return Number(spawnSync('sh', ['-c', `sh -c '${script}' >/dev/null; echo $?`], { encoding: 'utf8' }).stdout.trim());
}

async function runPipe(env: NodeJS.ProcessEnv, script: string, kind: '--pipe' | '--pty' = '--pipe'): Promise<string> {
  const r = await runCli(['run', kind, '--', 'sh', '-c', script], env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('output --follow and wait exit with the session\'s status, as a shell would', () => {
  it('pipe and PTY: an exit code, a signal (128 + n), and 0', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    for (const [script, kind] of [['echo a; sleep 0.2; exit 3', '--pipe'], ['echo a; sleep 0.2; kill -KILL $$', '--pipe'],
      ['echo a; sleep 0.2; exit 5', '--pty'], ['echo a; kill -TERM $$', '--pty'], ['echo a', '--pipe']] as const) {
      const expected = shellStatus(script);
      const id = await runPipe(env, script, kind);
      const follow = await runCli(['output', id, '--follow'], env);
      expect(follow.stdout.replace(/\r/g, ''), `${kind} ${script}`).toBe('a\n');
      expect(follow.code, `${kind} ${script}: ${follow.stderr}`).toBe(expected);
      const wait = await runCli(['wait', id], env);
      expect(wait, `${kind} ${script}`).toEqual({ code: expected, stdout: '', stderr: '' });
    }
  });

  it('wait: --timeout exits 124 and the session keeps running; --json gives the record; an unknown id exits 127', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const id = await runPipe(env, 'sleep 30');
    const timedOut = await runCli(['wait', id, '--timeout', '0.3'], env);
    expect(timedOut.code).toBe(124);
    expect(timedOut.stderr).toBe(`runpm: wait: session ${id} still runs after 0.3 s; runpm kill ${id} ends it\n`);
    expect((await daemon.client.listPipes())[0]).toMatchObject({ sessionId: id, exited: false });
    const asJson = await runCli(['--json', 'wait', id, '--timeout', '200ms'], env);
    expect(asJson.code).toBe(124);
    expect(JSON.parse(asJson.stdout)).toEqual({ sessionId: id, kind: 'pipe', exited: false, exitCode: null, signal: null, leftoverPids: [], timedOut: true });

    // A wait that is under way when the session ends returns then, with its status.
    const waiting = runCli(['--json', 'wait', id], env);
    await waitFor(async () => (await daemon!.client.listPipes())[0]!.exited === false, 'still running');
    expect((await runCli(['kill', id, '--signal', 'KILL'], env)).code).toBe(0);
    const waited = await waiting;
    expect(waited.code).toBe(137);
    expect(JSON.parse(waited.stdout)).toEqual({ sessionId: id, kind: 'pipe', exited: true, exitCode: 137, signal: 'SIGKILL', leftoverPids: [], timedOut: false });

    expect(await runCli(['wait', 'no-such-session'], env)).toEqual({ code: 127, stdout: '', stderr: 'runpm: wait: no session with id "no-such-session"\n' });
    for (const bad of ['-1', 'soon', '0']) {
      const r = await runCli(['wait', id, '--timeout', bad], env);
      expect(r.code, bad).toBe(1);
      expect(r.stderr, bad).toMatch(/^runpm: --timeout must be /);
    }
  });

  it('wait waits for what the command left running in its group, unless --leader-only', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const id = await runPipe(env, 'sleep 30 & exit 4');
    const leader = await runCli(['--json', 'wait', id, '--leader-only'], env);
    expect(leader.code).toBe(4);
    const early = JSON.parse(leader.stdout) as { leftoverPids: number[] };
    expect(early.leftoverPids.length).toBe(1);
    const whole = await runCli(['wait', id, '--timeout', '0.3'], env);
    expect(whole.code).toBe(124);
    expect(whole.stderr).toBe(`runpm: wait: session ${id} exited (4) but what it left still runs (pid ${early.leftoverPids[0]}) after 0.3 s; runpm kill ${id} ends it\n`);
    // Ending what it left ends the wait, with the command's own status.
    const waiting = runCli(['--json', 'wait', id], env);
    expect((await runCli(['kill', id], env)).code).toBe(0);
    const waited = await waiting;
    expect(waited.code).toBe(4);
    expect(JSON.parse(waited.stdout)).toMatchObject({ exited: true, exitCode: 4, signal: null, leftoverPids: [], timedOut: false });
  });

  it('the library: waitForExit resolves with the status; NOT_FOUND for an unknown id', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'kill -HUP $$'] });
    expect(await c.waitForExit(s.sessionId)).toEqual({ sessionId: s.sessionId, kind: 'pipe', exited: true, exitCode: 129, signal: 'SIGHUP', leftoverPids: [], timedOut: false });
    const t = await c.spawnPty({ argv: ['sh', '-c', 'exit 0'] });
    expect(await c.waitForExit(t.sessionId)).toMatchObject({ kind: 'pty', exitCode: 0, signal: null, timedOut: false });
    await expect(c.waitForExit('nope')).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

describe('the exit status in sessions, events and exec', () => {
  it('sessions table and JSON: exit 0 shown, a signal by number and name, every field present while running', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const zero = await runPipe(env, 'exit 0');
    const killed = await runPipe(env, 'kill -TERM $$');
    const running = await runPipe(env, 'sleep 30');
    await waitFor(async () => (await daemon!.client.listPipes()).filter((s) => s.exited).length === 2, 'two exits');
    const table = (await runCli(['sessions'], env)).stdout.split('\n');
    expect(table.find((l) => l.startsWith(zero))).toMatch(/ exited 0 /);
    expect(table.find((l) => l.startsWith(killed))).toMatch(/ exited 143 \(SIGTERM\) /);
    expect(table.find((l) => l.startsWith(running))).toMatch(/ running /);

    const rows = JSON.parse((await runCli(['--json', 'sessions'], env)).stdout) as Array<Record<string, unknown>>;
    const byId = new Map(rows.map((r) => [r.sessionId, r]));
    const keys = ['kind', 'sessionId', 'pid', 'command', 'cwd', 'originator', 'createdAt', 'stdoutAttached', 'stderrAttached',
      'exited', 'exitCode', 'signal', 'exitedAt', 'mergeStderrIntoStdout', 'terminationOutcome', 'leftoverPids'];
    for (const r of rows) expect(Object.keys(r).sort()).toEqual([...keys].sort());
    expect(byId.get(zero)).toMatchObject({ exited: true, exitCode: 0, signal: null, originator: '', stdoutAttached: false, leftoverPids: [], terminationOutcome: 'NATURAL_EXIT' });
    expect(byId.get(killed)).toMatchObject({ exited: true, exitCode: 143, signal: 'SIGTERM', terminationOutcome: 'NATURAL_EXIT' });
    expect(byId.get(running)).toMatchObject({ exited: false, exitCode: null, signal: null, exitedAt: 0, terminationOutcome: null });
    // Ended by runpm kill: the soft signal worked.
    expect((await runCli(['kill', running], env)).code).toBe(0);
    await waitFor(async () => (await daemon!.client.listPipes()).every((s) => s.exited), 'the kill');
    const after = JSON.parse((await runCli(['--json', 'sessions'], env)).stdout) as Array<Record<string, unknown>>;
    expect(after.find((r) => r.sessionId === running)).toMatchObject({ exitCode: 143, signal: 'SIGTERM', terminationOutcome: 'SOFT_EXIT' });
  });

  it('events: session.exited carries exit 0 and a signal as number and name, in text and JSON', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const zero = await runPipe(env, 'exit 0');
    const killed = await runPipe(env, 'kill -KILL $$');
    await waitFor(async () => (await daemon!.client.listPipes()).every((s) => s.exited), 'both exited');
    const cli = spawn(process.execPath, [RUNPM, '--json', 'events', '--kind', 'session.exited', '--since', '1'], { env });
    let stdout = '';
    cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const closed = new Promise((resolve) => cli.on('close', resolve));
    await waitFor(() => stdout.includes(killed), 'both exits replayed');
    cli.kill('SIGINT');
    await closed;
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.sessionId === zero)).toMatchObject({ kind: 'session.exited', exitCode: 0, signal: null, status: 'NATURAL_EXIT' });
    expect(events.find((e) => e.sessionId === killed)).toMatchObject({ kind: 'session.exited', exitCode: 137, signal: 'SIGKILL' });

    const sub = await daemon.client.subscribeEvents({ kinds: ['session.exited'], sinceSeq: 1 });
    const seen = [];
    for await (const e of sub) {
      seen.push(e);
      if (seen.length === 2) break;
    }
    sub.close();
    expect(seen.map((e) => [e.sessionId, e.exitCode, e.signal])).toEqual([[zero, 0, null], [killed, 137, 'SIGKILL']]);
  });

  it('exec: a signal is 128 + n with its name, in the result, under --json and as the exit status', async () => {
    daemon = await startDaemon();
    const r = await daemon.client.exec({ argv: ['sh', '-c', 'kill -KILL $$'] });
    expect(r).toMatchObject({ success: false, exitCode: 137, signal: 'SIGKILL', timedOut: false });
    const ok = await daemon.client.exec({ argv: ['true'] });
    expect(ok).toMatchObject({ success: true, exitCode: 0, signal: null });
    const cli = await runCli(['--json', 'exec', '--', 'sh', '-c', 'kill -TERM $$'], daemon.env);
    expect(cli.code).toBe(shellStatus('kill -TERM $$'));
    expect(JSON.parse(cli.stdout)).toMatchObject({ exitCode: 143, signal: 'SIGTERM', success: false });
    const missing = JSON.parse((await runCli(['--json', 'exec', '--', 'no-such-command-here'], daemon.env)).stdout) as Record<string, unknown>;
    expect(missing).toMatchObject({ exitCode: 127, signal: null, sessionId: '' });
  });
});

describe('a reader that goes away', () => {
  it('output, output --follow and exec --stream into head end quietly with 141, like a shell tool killed by SIGPIPE', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    // 700 KB: more than a pipe holds, less than the session's 1 MiB ring.
    const id = await runPipe(env, 'seq 1 120000; sleep 30');
    await waitFor(async () => (await daemon!.client.backlog(id)).backlog.length > 600 * 1024, 'a large backlog');
    // What sh itself gives for a writer whose reader left.
    expect((await bash('seq 1 400000 | head -1; echo "status=${PIPESTATUS[0]}"', env)).stdout).toBe('1\nstatus=141\n');
    for (const line of [`"$RUNPM" output ${id} | head -1`, `"$RUNPM" output ${id} --follow | head -1`,
      '"$RUNPM" exec --stream --timeout 60000 -- seq 1 10000000 | head -1']) {
      const r = await bash(`${line}; echo "status=\${PIPESTATUS[0]}"`, env);
      expect(r.stdout, line).toBe('1\nstatus=141\n');
      expect(r.stderr.replace(/^runpm: session \S+ \(pid \d+\)\n/, ''), line).toBe('');
    }
    // The follower's going away left the session running.
    await waitFor(async () => (await daemon!.client.listPipes()).find((s) => s.sessionId === id)?.stdoutAttached === false, 'the follower gone');
    expect((await daemon.client.listPipes()).find((s) => s.sessionId === id)).toMatchObject({ exited: false });
  });
});
