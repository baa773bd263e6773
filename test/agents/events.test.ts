// Lifecycle events: in order, with increasing sequence numbers, without polling.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { startDaemon, waitFor, runCli, RUNPM, type TestDaemon } from '../helpers/daemon';
import '../../src/client';
import type { DaemonEvent } from '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('events', () => {
  it('streams session spawned/attached/stolen/detached/exited in order with increasing seq', async () => {
    daemon = await startDaemon();
    const sub = await daemon.client.subscribeEvents({ kinds: ['session.'] });
    expect(sub.nextSeq).toBe(1);
    const seen: DaemonEvent[] = [];
    const reader = (async () => {
      for await (const e of sub) seen.push(e);
    })();
    const { sessionId } = await daemon.client.spawnPipe({ argv: ['sh', '-c', 'read line; echo "$line"'] });
    const first = await daemon.client.attachPipe(sessionId);
    const other = await daemon.connect();
    const second = await other.attachPipe(sessionId, { steal: true });
    await daemon.client.detachPipe(sessionId, 'stdout');
    await daemon.client.writeStdin(sessionId, 'bye\n', { close: true });
    await waitFor(() => seen.some((e) => e.kind === 'session.exited'), 'session.exited event');
    first.close();
    second.close();
    sub.close();
    await reader;
    expect(seen.map((e) => e.kind)).toEqual(['session.spawned', 'session.attached', 'session.stolen', 'session.attached', 'session.detached', 'session.exited']);
    expect(seen.every((e) => e.sessionId === sessionId)).toBe(true);
    const seqs = seen.map((e) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seen[5].exitCode).toBe(0);
  });

  it('replays retained events after a known seq, filters by kind, and runpm events prints them', async () => {
    daemon = await startDaemon();
    const a = await daemon.client.spawnPipe({ argv: ['true'] });
    await waitFor(async () => (await daemon!.client.backlog(a.sessionId)).exited, 'first session to exit');
    const sub = await daemon.client.subscribeEvents({ sinceSeq: 1, kinds: ['session.exited'] });
    const it = sub[Symbol.asyncIterator]();
    const replayed = (await it.next()).value as DaemonEvent;
    expect(replayed.kind).toBe('session.exited');
    expect(replayed.sessionId).toBe(a.sessionId);
    sub.close();

    const b = await daemon.client.spawnPipe({ argv: ['true'] });
    // --since 1 replays what happened before the CLI connected (seq 1 was the first spawn).
    const cli = spawn(process.execPath, [RUNPM, '--json', 'events', '--kind', 'session.spawned', '--since', '1'], { env: daemon.env });
    let stdout = '';
    cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const closed = new Promise((resolve) => cli.on('close', resolve));
    await waitFor(() => stdout.includes(b.sessionId), 'runpm events to print the replayed spawn');
    cli.kill('SIGINT');
    await closed;
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; sessionId: string });
    expect(lines.map((l) => l.sessionId)).toContain(b.sessionId);
    expect(lines.every((l) => l.kind === 'session.spawned')).toBe(true);
  });

  it('refuses a bad --since', async () => {
    daemon = await startDaemon();
    const bad = await runCli(['events', '--since', '-3'], daemon.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--since must be a non-negative integer, got "-3"');
  });
});
