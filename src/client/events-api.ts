// Client methods for the lifecycle event stream (SUBSCRIBE_EVENTS).
import { pb, RequestType } from '../wire/proto';
import type { running_process } from '../wire/proto';
import { DaemonClient } from './daemon-client';

export type DaemonEvent = running_process.daemon.v1.DaemonEvent;

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

DaemonClient.prototype.subscribeEvents = async function (this: DaemonClient, opts = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_SUBSCRIBE_EVENTS, 'subscribeEvents',
    { kinds: opts.kinds ?? [], sinceSeq: opts.sinceSeq ?? 0 });
  return {
    nextSeq: response.nextSeq,
    runId: response.runId,
    close: () => frames.close(),
    async *[Symbol.asyncIterator]() {
      for await (const body of frames) yield pb.DaemonEvent.decode(body);
    },
  };
};
