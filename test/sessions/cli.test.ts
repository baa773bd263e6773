// Black-box tests of the pipe-session CLI: run --pipe, sessions, output, send, kill, purge.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client/sessions-api';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('runpm pipe-session commands', () => {
  it('runs, lists, sends, follows output, kills and purges', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    const run = await runCli(['run', '--pipe', '--originator', 'cli-test', '--', 'sh', '-c', 'echo started; echo oops >&2; cat'], env);
    expect(run.stderr).toBe('');
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const asJson = await runCli(['--json', 'run', '--pipe', '--merge-stderr', '--', 'sleep', '1000'], env);
    const record = JSON.parse(asJson.stdout) as { sessionId: string; pid: number; kind: string };
    expect(record).toMatchObject({ kind: 'pipe' });
    expect(record.pid).toBeGreaterThan(0);

    const list = JSON.parse((await runCli(['--json', 'sessions', '--originator', 'cli-test'], env)).stdout) as Array<{ sessionId: string }>;
    expect(list.map((s) => s.sessionId)).toEqual([id]);
    expect((await runCli(['sessions'], env)).stdout).toContain(record.sessionId);

    expect((await runCli(['send', id, 'hello\n'], env)).code).toBe(0);
    await waitFor(async () => (await runCli(['output', id], env)).stdout === 'started\nhello\n', 'output backlog');
    expect((await runCli(['output', id, '--stderr'], env)).stdout).toBe('oops\n');

    const follow = runCli(['output', id, '--follow'], env);
    await waitFor(async () => (await daemon!.client.listPipes('cli-test'))[0]!.stdoutAttached, 'follower attached');
    expect((await runCli(['send', id, '-', '--close'], env, 'from stdin\n')).code).toBe(0);
    const followed = await follow;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe('started\nhello\nfrom stdin\n');

    expect((await runCli(['kill', record.sessionId, '--grace', '200'], env)).code).toBe(0);
    await waitFor(async () => (await daemon!.client.listPipes()).every((s) => s.exited), 'all exited');
    const purge = await runCli(['purge'], env);
    expect(purge.stdout.trim()).toBe('purged 2 pipe and 0 pty sessions');
    expect((await runCli(['sessions'], env)).stdout.trim()).toBe('no sessions');
  });

  it('reports errors on stderr with a non-zero exit', async () => {
    daemon = await startDaemon();
    const env = daemon.env;
    // A program that cannot start is a shell's 127, with the shell's wording.
    const missing = await runCli(['run', '--pipe', '--', 'no-such-program-xyz'], env);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('runpm: no-such-program-xyz: command not found\n');
    const ghost = await runCli(['output', 'nope'], env);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/"nope".*NOT_FOUND/);
    const grace = await runCli(['kill', 'nope', '--grace', '-5'], env);
    expect(grace.code).toBe(1);
    expect(grace.stderr).toMatch(/--grace.*"-5"/);
    const noKind = await runCli(['run', '--', 'true'], env);
    expect(noKind.code).toBe(1);
    expect(noKind.stderr).toMatch(/--pipe/);
  });
});
