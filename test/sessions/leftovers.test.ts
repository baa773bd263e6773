// Black-box: what a command leaves running in its process group or session (a shell's `cmd &`) is
// part of its session: listed as leftover pids, waited for and reported by exec, ended by kill;
// kill --signal sends one signal (as kill(1) would); kill of a finished session is an error; exec
// names its session on stderr at once and streams with --stream.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPM, isAlive, runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode } from '../../src/wire/proto';
import '../../src/client';

let daemon: TestDaemon | null = null;
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const pid of strays.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

/** A sh that puts a sleep in the background (in its own group, as non-interactive sh does) and exits. */
const BACKGROUND = 'sleep 30 & echo "$!"';

describe('leftover processes', () => {
  it('are listed after the leader exits, kept through purge, ended by kill; kill of a finished session fails', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const run = await runCli(['run', '--pipe', '--', 'sh', '-c', `${BACKGROUND} >&2`], daemon.env);
    const id = run.stdout.trim();
    const row = await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === id && s.exited && s.leftoverPids.length === 1), 'the leader to exit leaving its sleep');
    const sleepPid = row.leftoverPids[0];
    strays.push(sleepPid);
    expect(Buffer.from((await c.backlog(id, { stream: 'stderr' })).backlog).toString().trim()).toBe(String(sleepPid));
    expect((await c.backlog(id)).leftoverPids).toEqual([sleepPid]);
    expect(await c.purge()).toMatchObject({ pipePurged: 0 });
    const table = (await runCli(['sessions'], daemon.env)).stdout;
    expect(table).toMatch(new RegExp(`${id}\\s+pipe\\s+${row.pid}\\s+exited 0 \\+1 left`));

    const kill = await runCli(['--json', 'kill', id, '--grace', '500'], daemon.env);
    expect(kill.code, kill.stderr).toBe(0);
    expect(JSON.parse(kill.stdout)).toMatchObject({ sessionId: id, processesSignalled: 1, alreadyExited: true });
    await waitFor(() => !isAlive(sleepPid), 'the leftover sleep to be killed');
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === id)?.leftoverPids.length === 0, 'no leftovers listed');

    // Nothing left: like kill(1) of a process that is gone, an error with exit status 1.
    const again = await runCli(['kill', id], daemon.env);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toBe(`runpm: session ${id} has already exited (exit status 0) and left nothing running: nothing to kill (NOT_FOUND)\n`);
    // The wire stays idempotent (as the reference answers): OK with nothing signalled.
    expect(await c.terminate(id)).toMatchObject({ processesSignalled: 0, alreadyExited: true, exitCode: 0 });
    expect(await c.purge()).toMatchObject({ pipePurged: 1 });
  });

  it('exec waits for what the command left and reports what still runs at the timeout, like a shell capture', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // The background job writes after its parent exited: exec, like $(...), sees it.
    const late = await c.exec({ argv: ['sh', '-c', '(sleep 0.5; echo late) & echo early'], timeoutMs: 20_000 });
    expect(late).toMatchObject({ success: true, exitCode: 0, timedOut: false, output: 'early\nlate\n', leftoverPids: [] });
    // A job with its output closed still counts until it is gone.
    const quiet = await c.exec({ argv: ['sh', '-c', 'sleep 0.5 >/dev/null 2>&1 &'], timeoutMs: 20_000 });
    expect(quiet).toMatchObject({ success: true, exitCode: 0, timedOut: false, leftoverPids: [] });
    expect(quiet.wallDurationMs).toBeGreaterThanOrEqual(400);

    const left = await c.exec({ argv: ['sh', '-c', BACKGROUND], timeoutMs: 1000 });
    const sleepPid = Number(left.output.trim());
    strays.push(sleepPid);
    expect(left).toMatchObject({ success: false, exitCode: 0, timedOut: true, leftoverPids: [sleepPid] });
    expect(isAlive(sleepPid)).toBe(true);
    expect(await c.terminate(left.sessionId, 300)).toMatchObject({ processesSignalled: 1 });
    await waitFor(() => !isAlive(sleepPid), 'kill to end the leftover');

    const cli = await runCli(['exec', '--timeout', '800', '--', 'sh', '-c', BACKGROUND], daemon.env);
    strays.push(Number(cli.stdout.trim()));
    expect(cli.code).toBe(124);
    const [started, note] = cli.stderr.trim().split('\n');
    const id = /^runpm: session ([0-9a-f-]{36}) \(pid \d+\)$/.exec(started!)?.[1];
    expect(id).toBeTruthy();
    expect(note).toBe(`runpm: the command exited with code 0 but left 1 process running (pid ${cli.stdout.trim()}) after 800 ms, in session ${id} (runpm kill ${id} ends them)`);
    expect((await runCli(['kill', id!], daemon.env)).code).toBe(0);
  });

  it('exec names the session on stderr before the command ends, so a killed caller can pick it up', async () => {
    daemon = await startDaemon();
    const child = spawn(process.execPath, [RUNPM, 'exec', '--timeout', '60000', '--', 'sh', '-c', 'echo working; sleep 30'], { env: daemon.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.on('close', resolve));
    const id = await waitFor(() => /runpm: session ([0-9a-f-]{36})/.exec(stderr)?.[1], 'the session line on stderr');
    child.kill('SIGKILL');
    await exited;
    expect((await daemon.client.listPipes()).find((s) => s.sessionId === id)?.exited).toBe(false);
    expect((await runCli(['kill', id], daemon.env)).code).toBe(0);
  });

  it('exec --json --stream prints the session first, output as it comes, the result last', async () => {
    daemon = await startDaemon();
    const r = await runCli(['--json', 'exec', '--stream', '--separate-stderr', '--', 'sh', '-c', 'printf "h\\303"; sleep 0.2; printf "\\251 1\\n"; echo e >&2; exit 3'], daemon.env);
    expect(r.code).toBe(3);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'started' });
    expect(events.at(-1)).toMatchObject({ event: 'result', exitCode: 3, output: 'hé 1\n', stderr: 'e\n', sessionId: events[0]!.sessionId });
    const text = (stream: string) => events.filter((e) => e.event === 'output' && e.stream === stream).map((e) => e.text).join('');
    expect(text('stdout')).toBe('hé 1\n');
    expect(text('stderr')).toBe('e\n');
    // Split mid-character across two chunks, each event still holds whole characters.
    for (const e of events.filter((x) => x.event === 'output')) expect(String(e.text)).not.toContain('\ufffd');
    const plain = await runCli(['exec', '--stream', '--', 'sh', '-c', 'echo one; echo two'], daemon.env);
    expect(plain).toMatchObject({ code: 0, stdout: 'one\ntwo\n' });
  });
});

describe('kill --signal', () => {
  it('sends one signal to the session\'s processes, pipe and PTY alike, as kill(1) would', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const trap = 'trap "echo got-$SIG; exit 7" INT HUP USR1; echo ready; while :; do sleep 0.05; done';
    for (const [kind, sig] of [['--pipe', 'INT'], ['--pty', 'HUP'], ['--pipe', 'usr1'], ['--pty', '2']]) {
      const name = sig === '2' ? 'INT' : sig.toUpperCase();
      const id = (await runCli(['run', kind, '--', 'sh', '-c', trap.replace('$SIG', name)], daemon.env)).stdout.trim();
      await waitFor(async () => Buffer.from((await c.backlog(id)).backlog).toString().includes('ready'), 'the trap to be set');
      const k = await runCli(['kill', id, '--signal', sig], daemon.env);
      expect(k, k.stderr).toMatchObject({ code: 0 });
      const b = await waitFor(async () => {
        const x = await c.backlog(id);
        return x.exited ? x : null;
      }, `${kind} session to exit on ${sig}`);
      expect(b.exitCode, `${kind} ${sig}`).toBe(7);
      expect(Buffer.from(b.backlog).toString()).toContain(`got-${name}`);
    }
    const hard = (await runCli(['run', '--pipe', '--', 'sh', '-c', 'trap "" TERM INT; sleep 30 & wait'], daemon.env)).stdout.trim();
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === hard)?.pid, 'the session');
    expect((await runCli(['kill', hard, '--signal', 'KILL'], daemon.env)).code).toBe(0);
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === hard && s.exited && s.leftoverPids.length === 0), 'KILL to end the tree');
  });

  it('refuses an unknown signal, --grace with --signal, and bad wire values, naming them, and signals nothing', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sleep', '30'] });
    const bad = await runCli(['kill', s.sessionId, '--signal', 'NOPE'], daemon.env);
    expect(bad).toMatchObject({ code: 1, stderr: 'runpm: --signal "NOPE" is not a signal (use a name like INT, TERM, KILL, HUP, USR1, or its number) (INVALID_ARGUMENT)\n' });
    const both = await runCli(['kill', s.sessionId, '--signal', 'INT', '--grace', '10'], daemon.env);
    expect(both).toMatchObject({ code: 1, stderr: 'runpm: --grace goes with the SIGTERM schedule, not with --signal\n' });
    for (const [type, key] of [[RequestType.REQUEST_TYPE_TERMINATE_PIPE_SESSION, 'terminatePipeSession'], [RequestType.REQUEST_TYPE_TERMINATE_PTY_SESSION, 'terminatePtySession']] as const) {
      for (const signal of ['SIGWHAT', '999', '-1', 'KILL; rm']) {
        const r = await c.send(type, key, { sessionId: s.sessionId, signal });
        expect(StatusCode[r.code], `${key} ${signal}`).toBe('STATUS_CODE_INVALID_ARGUMENT');
        expect(r.message).toBe(`signal ${JSON.stringify(signal)} is not a signal (use a name like INT, TERM, KILL, HUP, USR1, or its number)`);
      }
      // The signal is checked before the id: a bad one is named even for an unknown session.
      const r = await c.send(type, key, { sessionId: 'ghost', signal: 'NOPE' });
      expect(StatusCode[r.code]).toBe('STATUS_CODE_INVALID_ARGUMENT');
    }
    expect((await c.listPipes())[0]).toMatchObject({ exited: false });
    expect((await runCli(['kill', 'no-such-id', '--signal', 'INT'], daemon.env)).stderr).toMatch(/"no-such-id".*NOT_FOUND/);
  });
});

describe('reaping exited sessions', () => {
  it('keeps the newest --keep-exited and forgets those older than --keep-exited-ms, but never one whose leftovers run', async () => {
    daemon = await startDaemon({ args: ['--keep-exited', '2', '--keep-exited-ms', '1500'] });
    const c = daemon.client;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await c.spawnPipe({ argv: ['true'], originator: `reap-${i}` });
      ids.push(s.sessionId);
      // Exited (or reaped already, which needs an exit first).
      await waitFor(async () => (await c.listPipes()).find((x) => x.sessionId === s.sessionId)?.exited ?? true, `session ${i} to exit`);
    }
    await waitFor(async () => (await c.listPipes()).length === 2, 'the count limit');
    expect((await c.listPipes()).map((s) => s.sessionId).sort()).toEqual(ids.slice(2).sort());
    const busy = await c.spawnPipe({ argv: ['sh', '-c', 'sleep 30 >/dev/null 2>&1 &'] });
    const leftover = await waitFor(async () => (await c.listPipes()).find((x) => x.sessionId === busy.sessionId && x.leftoverPids.length === 1)?.leftoverPids[0], 'the leftover');
    strays.push(leftover);
    // The age limit: the plain ones go, the one whose sleep still runs stays.
    await waitFor(async () => (await c.listPipes()).length === 1, 'the age limit', 20_000);
    expect((await c.listPipes())[0]).toMatchObject({ sessionId: busy.sessionId, leftoverPids: [leftover] });
    const log = `${daemon.stderr()}${fs.existsSync(daemon.paths.daemonLogPath) ? fs.readFileSync(daemon.paths.daemonLogPath, 'utf8') : ''}`;
    expect(log).toMatch(/reaped \d+ exited session\(s\) \(keeping the newest 2, for 1500 ms\)/);
    await c.terminate(busy.sessionId, 200);
    await waitFor(async () => (await c.listPipes()).length === 0, 'the session to be reaped once its leftover is gone', 20_000);
  });

  it('refuses bad reaping flags, naming them', async () => {
    await expect(startDaemon({ args: ['--keep-exited', '0'] })).rejects.toThrow(/--keep-exited must be an integer >= 1, got "0"/);
    await expect(startDaemon({ args: ['--keep-exited-ms', '10'] })).rejects.toThrow(/--keep-exited-ms must be an integer >= 1000, got "10"/);
  });

  it('runpm sessions lists running ones first, newest first', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const done1 = await c.spawnPipe({ argv: ['true'] });
    const run1 = await c.spawnPipe({ argv: ['sleep', '30'] });
    const done2 = await c.spawnPty({ argv: ['true'] });
    const run2 = await c.spawnPty({ argv: ['sleep', '30'] });
    await waitFor(async () => (await c.listPipes()).find((s) => s.sessionId === done1.sessionId)?.exited
      && (await c.listPtys()).find((s) => s.sessionId === done2.sessionId)?.exited, 'both quick sessions to exit');
    const list = JSON.parse((await runCli(['--json', 'sessions'], daemon.env)).stdout) as Array<{ sessionId: string }>;
    expect(list.map((s) => s.sessionId)).toEqual([run2.sessionId, run1.sessionId, done2.sessionId, done1.sessionId]);
  });
});
