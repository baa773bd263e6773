// Black-box tests of the client's streaming connections: each attach has its own connection, the
// client keeps one spare connected for the next attach, and close() releases everything.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, ROOT, type TestDaemon } from '../helpers/daemon';
import { connect, type DaemonClient } from '../../src/client';
import { DaemonError } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Runs `true` in a pipe session and reads its attachment to the exit frame; returns the exit code. */
async function spawnAndWatch(client: DaemonClient): Promise<number> {
  const { sessionId } = await client.spawnPipe({ argv: ['true'] });
  const att = await client.attachPipe(sessionId);
  let code = NaN;
  for await (const f of att) {
    if (f.kind === 'exit') code = f.code;
    if (f.kind !== 'bytes' && f.kind !== 'missed') break;
  }
  return code;
}

describe('streaming connections', () => {
  it('keeps one spare connection after an attach, reuses it for the next, and close() releases it', async () => {
    daemon = await startDaemon();
    const client = await connect({ scope: daemon.scope, home: daemon.home, autoStart: false });
    const connections = async () => (await daemon!.client.status()).activeConnections;
    expect(await connections()).toBe(2); // the helper's client and this one: no spare before a stream
    for (let i = 0; i < 5; i++) expect(await spawnAndWatch(client)).toBe(0);
    // Five attaches, yet only the spare is left beside the two clients.
    await waitFor(async () => (await connections()) === 3, 'the finished attach connections to be released');
    client.close();
    await waitFor(async () => (await connections()) === 1, 'the closed client and its spare to be released');
  });

  it('a spare refused at the connection limit (on its first frame) makes the attach try a fresh connection; it works again below the limit', async () => {
    // Limit 3. A spare that sent nothing does not count against the limit (only connections that
    // sent a complete frame do), so it is kept; it is refused when its first request would pass it.
    daemon = await startDaemon({ args: ['--max-connections', '3'] });
    const client = await connect({ scope: daemon.scope, home: daemon.home, autoStart: false });
    expect(await spawnAndWatch(client)).toBe(0);
    await waitFor(async () => (await daemon!.client.status()).activeConnections === 3, 'the helper, the client and its idle spare');
    const other = await connect({ scope: daemon.scope, home: daemon.home, autoStart: false });
    expect((await other.ping()).serverTimeMs).toBeGreaterThan(0); // the third connection that counts
    const err = await spawnAndWatch(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect((err as DaemonError).message).toMatch(/too many connections: the limit is 3/);
    other.close();
    await waitFor(async () => (await daemon!.client.status()).activeConnections <= 3, 'the other client to be released');
    expect(await spawnAndWatch(client)).toBe(0);
    client.close();
  });

  it('does not keep a process alive: a script that attached and closed its client exits by itself', async () => {
    daemon = await startDaemon();
    const script = `
      const { connect } = require(${JSON.stringify(`${ROOT}/dist/src/client/index.js`)});
      (async () => {
        const c = await connect({ scope: ${JSON.stringify(daemon.scope)}, home: ${JSON.stringify(daemon.home)}, autoStart: false });
        const { sessionId } = await c.spawnPipe({ argv: ['echo', 'hi'] });
        const att = await c.attachPipe(sessionId);
        let out = String(att.backlog);
        for await (const f of att) { if (f.kind === 'bytes') out += f.data; else if (f.kind !== 'missed') break; }
        process.stdout.write(out);
        c.close();
      })();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    // A script kept alive by a connection would never exit: waited for with a deadline, killed after.
    try {
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, 'the script to exit by itself');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(child.exitCode).toBe(0);
    expect(stdout).toBe('hi\n');
  });
});
