// What spawning attached (SpawnPtySession/SpawnPipeSession with their attach field) shares on the
// client: reading the attach response the daemon sends besides the spawn's, on the stream the spawn
// opened. Used by pty-api.ts and sessions-api.ts.
import { WireError } from '../wire/errors';
import type { ResponseOutput } from '../wire/payload';
import type { DaemonStream } from './stream-socket';

/**
 * The attach half of a spawn sent with its attach field. A daemon too old for the field answers the
 * spawn alone: the plain session it started is stopped with `stop` (nobody else knows its id), the
 * stream closed, and the call fails saying so.
 */
export async function attachResponseOf<K extends 'attachPtySession' | 'attachPipeStream'>(
  opened: DaemonStream<'spawnPtySession' | 'spawnPipeSession'>, key: K, stop: (sessionId: string) => Promise<void>,
): Promise<ResponseOutput<K>> {
  const attached = opened.envelope[key];
  if (attached) return attached as ResponseOutput<K>;
  const { sessionId } = opened.response;
  opened.frames.close();
  await stop(sessionId).catch(() => undefined);
  throw new WireError('ERR_BAD_MESSAGE', `runpmd spawned session ${sessionId} without attaching to it (a daemon too old for spawning attached?); it was terminated`);
}
