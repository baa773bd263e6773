// Client methods for session observers (request types 78–80 and 1090): register a bounded
// subscription to a session's lifecycle/process events, read its counters, stream its events,
// unregister it. Installed on DaemonClient by index.ts.
import { exitStatusOf } from './exit-status';
import { DaemonClient, type CallOptions } from './daemon-client';
import { RequestType, pb, type running_process } from '../wire/proto';

export type ObserverSessionKindName = 'pty' | 'pipe';
export type ObserverCategoryName = 'lifecycle' | 'process' | 'file' | 'network';

const SESSION_KINDS: Record<ObserverSessionKindName, number> = {
  pty: pb.ObserverSessionKind.OBSERVER_SESSION_KIND_PTY,
  pipe: pb.ObserverSessionKind.OBSERVER_SESSION_KIND_PIPE,
};

const CATEGORIES: Record<ObserverCategoryName, number> = {
  lifecycle: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_LIFECYCLE,
  file: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_FILE,
  network: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_NETWORK,
  process: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_PROCESS,
};

/** Which subscription: its session and the subscriber id REGISTER returned. */
export interface ObserverRef {
  sessionId: string;
  sessionKind: ObserverSessionKindName;
  subscriberId: string;
}

export interface RegisterObserverOptions {
  sessionId: string;
  sessionKind: ObserverSessionKindName;
  /** Default: lifecycle only. FILE and NETWORK are refused (UNIMPLEMENTED) by this daemon. */
  categories?: ObserverCategoryName[];
  /** Queue capacity in events; 0 or absent → the daemon default (1024). */
  capacity?: number;
  /** Hold the session (stop reading its output) while the queue is full instead of dropping the oldest event. */
  block?: boolean;
}

/** GetSessionObserverStatus as the client reports it. */
export interface ObserverStatus {
  missedEvents: number;
  deliveredEvents: number;
  pendingEvents: number;
  disconnected: boolean;
  receiving: boolean;
}

export type ObserverEventKindName = 'exited' | 'attached' | 'detached' | 'stolen' | 'descendant-started' | 'descendant-exited' | 'unknown';

export interface ObserverEventOut {
  category: 'lifecycle' | 'process' | 'unknown';
  kind: ObserverEventKindName;
  pid: number;
  timestampMs: number;
  /** For `exited`: as everywhere else, 128 + n when signal n killed the session (see `signal`). */
  exitCode: number;
  /** For `exited`: the signal that killed the session ("SIGKILL"), else null. */
  signal: string | null;
  stream: string;
  detail: string;
  seq: number;
}

/** One frame of an observer stream (closed union). */
export type ObserverFrame =
  | { kind: 'event'; event: ObserverEventOut }
  | { kind: 'missed'; events: number }
  | { kind: 'session-ended' }
  | { kind: 'unregistered' }
  | { kind: 'error'; message: string }
  | { kind: 'stolen'; by: string };

const KIND_NAMES: Record<number, ObserverEventKindName> = {
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_EXITED]: 'exited',
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_ATTACHED]: 'attached',
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_DETACHED]: 'detached',
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_STOLEN]: 'stolen',
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_DESCENDANT_STARTED]: 'descendant-started',
  [pb.ObserverEventKind.OBSERVER_EVENT_KIND_DESCENDANT_EXITED]: 'descendant-exited',
};

/** Decodes one ObserverStreamFrame body. */
export function decodeObserverFrame(body: Uint8Array): ObserverFrame {
  const f = pb.ObserverStreamFrame.decode(body);
  switch (f.frame) {
    case 'event': {
      const e = f.event as running_process.daemon.v1.ObserverEvent;
      const category = e.category === pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_LIFECYCLE ? 'lifecycle'
        : e.category === pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_PROCESS ? 'process' : 'unknown';
      return {
        kind: 'event',
        event: {
          category, kind: KIND_NAMES[e.kind] ?? 'unknown', pid: e.pid, timestampMs: Number(e.timestampMs),
          ...(KIND_NAMES[e.kind] === 'exited' ? exitStatusOf(e.exitCode) : { exitCode: e.exitCode, signal: null }),
          stream: e.stream, detail: e.detail, seq: Number(e.seq),
        },
      };
    }
    case 'missedEvents': return { kind: 'missed', events: Number(f.missedEvents) };
    case 'sessionEnded': return { kind: 'session-ended' };
    case 'unregistered': return { kind: 'unregistered' };
    case 'stolenBy': return { kind: 'stolen', by: f.stolenBy as string };
    case 'error': return { kind: 'error', message: f.error as string };
    default: return { kind: 'error', message: 'empty observer frame' };
  }
}

/** A receiver of a subscription: iterate for frames; the last one is terminal. */
export interface ObserverStream extends AsyncIterable<ObserverFrame> {
  /** Counters when streaming started. */
  pendingEvents: number;
  missedEvents: number;
  deliveredEvents: number;
  /** Stops receiving (the subscription stays, disconnected, until unregistered). */
  close(): void;
}

declare module './daemon-client' {
  interface DaemonClient {
    /** Registers an observer on a session; resolves with its subscriber id (a UUID). */
    registerSessionObserver(opts: RegisterObserverOptions, call?: CallOptions): Promise<string>;
    /** Removes the subscription; its receiver (if any) gets `unregistered`. */
    unregisterSessionObserver(ref: ObserverRef, call?: CallOptions): Promise<void>;
    /** Delivered, missed and pending events, and whether a receiver is there. */
    getSessionObserverStatus(ref: ObserverRef, call?: CallOptions): Promise<ObserverStatus>;
    /**
     * Becomes the subscription's receiver on a dedicated connection: queued events first, then live
     * ones. `steal` takes it over from another receiver (else ALREADY_ATTACHED).
     */
    streamSessionObserver(ref: ObserverRef, opts?: { steal?: boolean }): Promise<ObserverStream>;
  }
}

function refPayload(ref: ObserverRef) {
  return { sessionId: ref.sessionId, sessionKind: SESSION_KINDS[ref.sessionKind], subscriberId: ref.subscriberId };
}

DaemonClient.prototype.registerSessionObserver = async function (this: DaemonClient, opts: RegisterObserverOptions, call?: CallOptions) {
  const r = await this.request(RequestType.REQUEST_TYPE_REGISTER_SESSION_OBSERVER, 'registerSessionObserver', {
    sessionId: opts.sessionId,
    sessionKind: SESSION_KINDS[opts.sessionKind],
    categories: (opts.categories ?? []).map((c) => CATEGORIES[c]),
    ringCapacityEvents: opts.capacity ?? 0,
    backpressure: opts.block ? pb.ObserverBackpressure.OBSERVER_BACKPRESSURE_BLOCK : pb.ObserverBackpressure.OBSERVER_BACKPRESSURE_DROP_OLDEST,
  }, call);
  return r.subscriberId;
};

DaemonClient.prototype.unregisterSessionObserver = async function (this: DaemonClient, ref: ObserverRef, call?: CallOptions) {
  await this.request(RequestType.REQUEST_TYPE_UNREGISTER_SESSION_OBSERVER, 'unregisterSessionObserver', refPayload(ref), call);
};

DaemonClient.prototype.getSessionObserverStatus = async function (this: DaemonClient, ref: ObserverRef, call?: CallOptions) {
  const r = await this.request(RequestType.REQUEST_TYPE_GET_SESSION_OBSERVER_STATUS, 'getSessionObserverStatus', refPayload(ref), call);
  return {
    missedEvents: Number(r.missedEvents), deliveredEvents: Number(r.deliveredEvents), pendingEvents: Number(r.pendingEvents),
    disconnected: r.disconnected, receiving: r.receiving,
  };
};

DaemonClient.prototype.streamSessionObserver = async function (this: DaemonClient, ref: ObserverRef, opts = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_STREAM_SESSION_OBSERVER, 'streamSessionObserver',
    { ...refPayload(ref), steal: opts.steal ?? false });
  return {
    pendingEvents: Number(response.pendingEvents),
    missedEvents: Number(response.missedEvents),
    deliveredEvents: Number(response.deliveredEvents),
    close: () => frames.close(),
    async *[Symbol.asyncIterator]() {
      for await (const body of frames) yield decodeObserverFrame(body);
    },
  };
};
