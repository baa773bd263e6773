// Running out is a status, not a bug: a daemon whose fd limit is lowered (prlimit) refuses new
// sessions with RESOURCE_EXHAUSTED naming the limit, keeps serving LIST and KILL, answers a new
// client "too many open files" instead of resetting it, and takes clients again once fds are back.
// A too-long argv is RESOURCE_EXHAUSTED (E2BIG), never INTERNAL.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import '../../src/client';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { firstAnswerToPing } from '../helpers/raw';
import { probeFdCrowd } from './bounds-run';

let daemon: TestDaemon | null = null;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await daemon?.stop();
  daemon = null;
});

function fdCountOf(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

describe('file descriptor exhaustion', () => {
  it('refuses new work with RESOURCE_EXHAUSTED, tells a new client "too many open files", and recovers', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const limit = fdCountOf(daemon.pid) + 40;
    expect(spawnSync('prlimit', ['--pid', String(daemon.pid), `--nofile=${limit}:${limit}`]).status).toBe(0);
    // The daemon reads its limit at most once a second: wait until it refuses.
    const ids: string[] = [];
    let refusal: DaemonError | null = null;
    await waitFor(async () => {
      try {
        ids.push((await c.spawnPipe({ argv: ['sleep', '60'] })).sessionId);
        expect(ids.length).toBeLessThan(40);
        return false;
      } catch (err) {
        refusal = err as DaemonError;
        return true;
      }
    }, 'a spawn to be refused');
    expect(refusal, String(refusal)).toBeInstanceOf(DaemonError);
    expect(refusal!.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    expect(refusal!.message).toMatch(new RegExp(`SPAWN_PIPE_SESSION refused: too many open files \\(EMFILE\\): \\d+ of ${limit} file descriptors open, and the daemon keeps 16 in reserve`));
    // Requests that open nothing still work.
    expect((await c.listPipes()).length).toBe(ids.length);

    // New connections eat into the reserve until the daemon says so: never a bare reset.
    let told: { code: number; message: string } | null = null;
    for (let i = 0; i < 40 && !told; i++) {
      const outcome = await firstAnswerToPing(daemon.paths.socketPath, sockets);
      if (typeof outcome === 'object' && 'code' in outcome && outcome.code === StatusCode.STATUS_CODE_OK) continue; // taken
      expect(outcome).not.toBeInstanceOf(Error);
      expect(outcome).not.toBe('closed');
      told = outcome as { code: number; message: string };
    }
    expect(told, 'a connection refused with a message').not.toBeNull();
    expect(told!.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    expect(told!.message).toMatch(new RegExp(`too many open files \\(EMFILE\\): \\d+ of ${limit} file descriptors open`));

    // Give the fds back: the held connections close, the sessions are killed; a new client is served.
    for (const s of sockets.splice(0)) s.destroy();
    for (const id of ids) await c.terminate(id, 0);
    await waitFor(() => fdCountOf(daemon!.pid) < limit - 30, 'the daemon to close the fds');
    const fresh = await daemon.connect();
    expect((await fresh.ping()).serverTimeMs).toBeGreaterThan(0);
    expect((await fresh.spawnPipe({ argv: ['true'] })).sessionId).toBeTruthy();
  });
});

describe('a crowd at the fd limit', () => {
  it('every one of 96 clients that keep their sockets open is answered or told "too many open files": none is reset', async () => {
    daemon = await startDaemon();
    const f = await probeFdCrowd(daemon, { clients: 96, batch: 8, headroom: 24 });
    console.log(`fd limit ${f.limit}: ${JSON.stringify(f.outcomes)}`);
    expect(f.reset, JSON.stringify(f.outcomes)).toBe(0);
    expect(f.told).toBeGreaterThan(0);
    await waitFor(() => fdCountOf(daemon!.pid) < f.limit - 16, 'the fds to come back');
    const fresh = await daemon.connect();
    expect((await fresh.ping()).serverTimeMs).toBeGreaterThan(0);
  });
});

describe('argument space', () => {
  it('a 1 MiB argv is RESOURCE_EXHAUSTED naming E2BIG, not INTERNAL; the daemon goes on', async () => {
    daemon = await startDaemon();
    // One argument over MAX_ARG_STRLEN (128 KiB), as in the report.
    const argv = ['echo', 'x'.repeat(1024 * 1024)];
    const err = await daemon.client.spawnPipe({ argv }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    expect((err as DaemonError).message).toMatch(/E2BIG/);
    expect((await daemon.client.ping()).serverTimeMs).toBeGreaterThan(0);
  });

  it('a PTY session too is refused with E2BIG before it forks (it used to "exit 1" without a word); the largest argument that fits still runs', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(() => null, (e: unknown) => e);
      expect(err, 'refused').toBeInstanceOf(DaemonError);
      expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
      return (err as DaemonError).message;
    };
    expect(await refused(c.spawnPty({ argv: ['echo', 'x'.repeat(1024 * 1024)] })))
      .toMatch(/cannot start "echo": E2BIG: argv\[1\] is 1048577 bytes, at most 131072 per string \(MAX_ARG_STRLEN\)/);
    // 30 variables of 100 KB each: every one fits, all together do not (2 MiB with an 8 MiB stack).
    const env = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`BIG${i}`, 'y'.repeat(100_000)]));
    expect(await refused(c.spawnPty({ argv: ['true'], env })))
      .toMatch(/cannot start "true": E2BIG: the argument list and environment take \d+ bytes \(1 arguments, \d+ environment entries\), at most \d+ \(a quarter of the stack limit/);
    expect(await refused(c.spawnPipe({ argv: ['true'], env }))).toMatch(/E2BIG/);
    // No false alarm at the edge: an argument of 131,071 bytes (131,072 with its NUL) runs.
    const { sessionId } = await c.spawnPipe({ argv: ['sh', '-c', 'echo ${#1}', 'sh', 'z'.repeat(131_071)] });
    await waitFor(async () => (await c.backlog(sessionId)).backlog.toString().trim() === '131071', 'the edge-sized argument to run');
  });
});
