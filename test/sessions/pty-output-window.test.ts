// The output window of a terminal attach (issue 18.3), black-box through the real daemon: a client
// that acknowledges nothing gets exactly the window and no more (a steal then ends its stream: every
// frame sent before it is in the socket ahead of the stolen frame); one that acknowledges what it
// read gets every byte, then the exit; a daemon given a bad window clamps it.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client/pty-api';
import { MIN_OUTPUT_WINDOW_BYTES } from '../../src/sessions/output-window';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** A child that waits for a line, then writes `bytes` bytes of text in raw mode (no \n→\r\n). */
const flood = (bytes: number) => ['sh', '-c', `stty raw -echo; printf R; read go; head -c ${bytes} /dev/zero | tr '\\0' x; sleep 100`];

describe('PTY attach: output window (acknowledged output)', () => {
  it('a client that acknowledges nothing gets the window and not one byte more', async () => {
    daemon = await startDaemon();
    const window = 32 * 1024;
    const { sessionId } = await daemon.client.spawnPty({ argv: flood(600_000) });
    const att = await daemon.client.attachPty(sessionId, { replay: 'ring', isTty: true, outputWindowBytes: window });
    let ready = att.backlog.includes('R');
    // Every byte streamed after the attach counts against the window: the "R" too when it comes
    // live rather than in the backlog (the backlog is in the response, not streamed).
    let frameBytes = 0;
    // "R" first (the child is ready), then the flood.
    const frames = (async () => {
      for await (const f of att) {
        if (f.kind === 'output') {
          frameBytes += f.data.length;
          if (f.data.includes('R')) ready = true;
        }
        if (f.kind === 'stolen') return f;
      }
      return null;
    })();
    await waitFor(() => ready, 'the child to be ready');
    att.write('go\n');
    await waitFor(() => frameBytes >= window, `${window} bytes streamed`);
    // Anything more the daemon sent before the steal would come before the stolen frame.
    const thief = await daemon.connect({ clientName: 'thief' });
    const other = await thief.attachPty(sessionId, { steal: true });
    expect(await frames).toMatchObject({ kind: 'stolen' });
    expect(frameBytes).toBe(window);
    other.close();
    thief.close();
  });

  it('a client that acknowledges what it read gets every byte, then the exit', async () => {
    daemon = await startDaemon();
    const total = 800_000;
    const { sessionId } = await daemon.client.spawnPty({
      argv: ['sh', '-c', `stty raw -echo; printf R; read go; head -c ${total} /dev/zero | tr '\\0' x; exit 3`],
    });
    const att = await daemon.client.attachPty(sessionId, { replay: 'ring', isTty: true, outputWindowBytes: MIN_OUTPUT_WINDOW_BYTES });
    let bytes = 0;
    let missed = 0;
    let end: unknown = null;
    let sentGo = att.backlog.includes('R');
    if (sentGo) att.write('go\n');
    for await (const f of att) {
      if (f.kind === 'output') {
        if (!sentGo && f.data.includes('R')) {
          sentGo = true;
          att.write('go\n');
          continue;
        }
        bytes += f.data.length;
        // At most the window outstanding: acknowledged as read.
        att.acknowledge(bytes);
      } else if (f.kind === 'missed') missed += f.bytes;
      else {
        end = f;
        break;
      }
    }
    expect(missed).toBe(0);
    expect(bytes).toBe(total);
    expect(end).toEqual({ kind: 'exit', code: 3 });
  });

  it('without a window (a script, a v1 client) nothing waits for acknowledgements', async () => {
    daemon = await startDaemon();
    const total = 300_000;
    const { sessionId } = await daemon.client.spawnPty({ argv: ['sh', '-c', `stty raw -echo; printf R; read go; head -c ${total} /dev/zero | tr '\\0' x; exit 0`] });
    const att = await daemon.client.attachPty(sessionId, { replay: 'ring' });
    let bytes = 0;
    let sentGo = att.backlog.includes('R');
    if (sentGo) att.write('go\n');
    let end: unknown = null;
    for await (const f of att) {
      if (f.kind !== 'output') {
        end = f;
        break;
      }
      if (!sentGo) {
        sentGo = f.data.includes('R');
        if (sentGo) att.write('go\n');
        continue;
      }
      bytes += f.data.length;
    }
    expect(bytes).toBe(total);
    expect(end).toEqual({ kind: 'exit', code: 0 });
  });
});
