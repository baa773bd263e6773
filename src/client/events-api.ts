// Client methods for the lifecycle event stream (SUBSCRIBE_EVENTS).
import { pb, RequestType } from '../wire/proto';
import type { running_process } from '../wire/proto';
import type { Decoded } from '../wire/payload';
import { DaemonClient } from './daemon-client';
import { exitStatusOf, type SessionExit } from './exit-status';

/**
 * One lifecycle event as a plain object with every field (a decoded message keeps its defaults on
 * its prototype, which JSON.stringify loses). A session.exited event carries the exit as everywhere
 * else (exitCode 128 + n and `signal` for a signal); other events have exitCode and signal null.
 */
export type DaemonEvent = Omit<Decoded<running_process.daemon.v1.DaemonEvent>, 'exitCode' | 'seq' | 'toJSON'> & SessionExit & { seq: number };

/** An open event subscription: iterate to receive events; close() ends it. */
export interface EventSubscription extends AsyncIterable<DaemonEvent> {
  /** Seq the first live event will carry, and this daemon run's id. */
  nextSeq: number;
  runId: string;
  close(): void;
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * Streams lifecycle events (session spawned/exited/attached/detached/stolen, service status
     * changes, zombies reaped) on a dedicated connection. `kinds` are prefixes ("session.");
     * `sinceSeq` replays retained events after that seq first.
     */
    subscribeEvents(opts?: { kinds?: string[]; sinceSeq?: number }): Promise<EventSubscription>;
  }
}

/** A decoded DaemonEvent as the library hands it out. */
export function daemonEventOf(body: Buffer): DaemonEvent {
  const message = pb.DaemonEvent.decode(body);
  const plain = pb.DaemonEvent.toObject(message, { defaults: true, longs: Number }) as Omit<DaemonEvent, 'exitCode' | 'signal'> & { exitCode: number };
  const exit: SessionExit = plain.kind === 'session.exited' ? exitStatusOf(plain.exitCode) : { exitCode: null, signal: null };
  return { ...plain, ...exit };
}

DaemonClient.prototype.subscribeEvents = async function (this: DaemonClient, opts = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_SUBSCRIBE_EVENTS, 'subscribeEvents',
    { kinds: opts.kinds ?? [], sinceSeq: opts.sinceSeq ?? 0 });
  return {
    nextSeq: response.nextSeq,
    runId: response.runId,
    close: () => frames.close(),
    async *[Symbol.asyncIterator]() {
      for await (const body of frames) yield daemonEventOf(body);
    },
  };
};
