// Tees on real PTY sessions: PTY_OUTPUT copies the terminal output, STDIN copies what clients typed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

describe('tees on PTY sessions', () => {
  it('copies the terminal output and the typed input to files, and closes them when the session ends', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'stty -echo; read line; echo "got:$line"'] });
    const outFile = path.join(daemon.home, 'pty-out.log');
    const inFile = path.join(daemon.home, 'pty-in.log');
    const outTee = await c.registerSessionTee({ sessionId, sessionKind: 'pty', stream: 'pty-output', filePath: outFile, block: true });
    const inTee = await c.registerSessionTee({ sessionId, sessionKind: 'pty', stream: 'stdin', filePath: inFile });
    expect([outTee, inTee]).toEqual([1, 2]);
    const att = await c.attachPty(sessionId, { rows: 24, cols: 80 });
    att.write('hello tee\r');
    await waitFor(() => fs.existsSync(outFile) && fs.readFileSync(outFile, 'utf8').includes('got:hello tee'), 'the output tee to get the answer');
    await waitFor(() => fs.existsSync(inFile) && fs.readFileSync(inFile, 'utf8') === 'hello tee\r', 'the STDIN tee to record the keystrokes');
    const status = await c.getSessionTeeStatus(sessionId, 'pty', outTee);
    expect(status).toMatchObject({ stream: 'pty-output', missedBytes: 0, disconnected: false });
    att.close();
    // The session ends by itself; both tees flush and close, and status is still readable or gone cleanly.
    await waitFor(async () => (await c.listPtys()).find((s) => s.sessionId === sessionId)?.exited, 'the session to exit');
    expect(fs.readFileSync(inFile, 'utf8')).toBe('hello tee\r');
  });

  it('refuses a pipe-only stream on a PTY session, naming it', async () => {
    daemon = await startDaemon();
    const { sessionId } = await daemon.client.spawnPty({ argv: ['sleep', '30'] });
    await expect(daemon.client.registerSessionTee({ sessionId, sessionKind: 'pty', stream: 'stdout', filePath: path.join(daemon.home, 'x') }))
      .rejects.toThrow(/STDOUT|stdout/);
    await daemon.client.terminatePty(sessionId, 100);
  });
});
