// The client half of spawning attached (src/client/spawn-attached.ts): a daemon too old for the
// attach field answers the spawn alone; the session it started must not be left running unseen.
import { describe, expect, it } from 'vitest';
import { attachResponseOf } from '../../src/client/spawn-attached';
import { WireError } from '../../src/wire/errors';
import type { DaemonStream } from '../../src/client/stream-socket';

function fakeStream(envelope: Record<string, unknown>): { opened: DaemonStream<'spawnPipeSession'>; closed: () => boolean } {
  let closed = false;
  const opened = {
    response: { sessionId: 'old-daemon-session', pid: 42, createdAt: 1 },
    envelope,
    frames: { close: () => { closed = true; } },
  } as unknown as DaemonStream<'spawnPipeSession'>;
  return { opened, closed: () => closed };
}

describe('spawn attached, client side', () => {
  it('returns the attach response the daemon sent besides the spawn', async () => {
    const attach = { backlog: Buffer.alloc(0), backlogTruncated: false, bytesMissed: 0 };
    const { opened, closed } = fakeStream({ attachPipeStream: attach });
    const stopped: string[] = [];
    await expect(attachResponseOf(opened, 'attachPipeStream', async (id) => { stopped.push(id); })).resolves.toBe(attach);
    expect(stopped).toEqual([]);
    expect(closed()).toBe(false);
  });

  it('stops the plain session an older daemon started, closes the stream, and says why', async () => {
    const { opened, closed } = fakeStream({});
    const stopped: string[] = [];
    const result = attachResponseOf(opened, 'attachPipeStream', async (id) => { stopped.push(id); });
    await expect(result).rejects.toThrow(WireError);
    await expect(result).rejects.toThrow(/spawned session old-daemon-session without attaching to it .*it was terminated/);
    expect(stopped).toEqual(['old-daemon-session']);
    expect(closed()).toBe(true);
  });
});
