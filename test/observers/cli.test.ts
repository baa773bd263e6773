// Black-box test of `runpm observe`: the events of a real session as lines (and as JSON), ending
// when the session ends; the subscription is gone afterwards; bad flags are refused.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client/index';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('runpm observe', () => {
  it('prints attach, detach and exit of a pipe session, then "session ended"; JSON with --json; PTY found out', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['sh', '-c', 'read x; exit 5'] });
    const observing = runCli(['observe', s.sessionId], daemon.env);
    await waitFor(() => /observer \S+ registered on pipe session/.test(daemon!.stderr()), 'registered in the log');
    const att = await c.attachPipe(s.sessionId);
    await c.detachPipe(s.sessionId);
    for await (const f of att) void f;
    await c.writeStdin(s.sessionId, 'go\n');
    const out = await observing;
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^#1 \S+Z attached pid=\d+ stream=stdout .*connection #\d+/);
    expect(lines[1]).toMatch(/^#2 \S+ detached pid=\d+ stream=stdout /);
    expect(lines[2]).toMatch(new RegExp(`^#3 \\S+ exited pid=${s.pid} exit=5`));
    expect(lines[3]).toBe('session ended');

    const pty = await c.spawnPty({ argv: ['sh', '-c', 'read x; exit 0'] });
    const json = runCli(['--json', 'observe', pty.sessionId, '--process', '--capacity', '8'], daemon.env);
    await waitFor(() => /observer \S+ registered on pty session/.test(daemon!.stderr()), 'PTY observer registered');
    const ptyAtt = await c.attachPty(pty.sessionId);
    ptyAtt.write('go\n');
    const got = await json;
    ptyAtt.close();
    expect(got.code).toBe(0);
    const frames = got.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; event?: { kind: string; category: string } });
    expect(frames.map((f) => f.event?.kind ?? f.kind)).toEqual(['attached', 'exited', 'session-ended']);
    expect(daemon.stderr()).toMatch(/registered on pty session .*\(lifecycle\+process, 8 events, drop-oldest\)/);
  });

  it('refuses bad flags and unknown sessions with a clear message', async () => {
    daemon = await startDaemon();
    const bad = await runCli(['observe', 'x', '--capacity', '0'], daemon.env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--capacity must be an integer from 1 to 65536, got "0"/);
    const kind = await runCli(['observe', 'x', '--kind', 'tty'], daemon.env);
    expect(kind.stderr).toMatch(/--kind must be pty or pipe, got "tty"/);
    const ghost = await runCli(['observe', 'no-such-session'], daemon.env);
    expect(ghost.code).not.toBe(0);
    expect(ghost.stderr).toMatch(/no PIPE session with id "no-such-session" \(NOT_FOUND\)/);
  });
});
