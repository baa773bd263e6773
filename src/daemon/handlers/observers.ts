// Session observers: REGISTER/UNREGISTER/GET_SESSION_OBSERVER_STATUS (78–80, the reference's) and
// STREAM_SESSION_OBSERVER (1090, ours: the receiving end). Every field is checked before the
// session is looked up; the subscriptions live in state.observers (src/observers).
import { RequestType, pb } from '../../wire/proto';
import { InvalidArgumentError, NotFoundError, UnavailableError, UnimplementedError } from '../../wire/errors';
import { stream, unary, type DispatchEntry, type HandlerContext, type StreamChannel } from '../dispatch';
import type { DaemonState } from '../state';
import type { Session, SessionKind } from '../../sessions/session-table';
import { DEFAULT_RING_CAPACITY_EVENTS, MAX_RING_CAPACITY_EVENTS, type SinkEntry } from '../../observers/observer-sink';
import type { SessionObservers } from '../../observers/session-observers';
import type { ObservedEvent, ObserverCategory, ObserverFrameCodec, ReceiverEnd, Subscription } from '../../observers/subscription';
import { enumLabel } from '../../tee/tee-kinds';

const KIND_NUMBERS: Record<ObservedEvent['kind'], number> = {
  exited: pb.ObserverEventKind.OBSERVER_EVENT_KIND_EXITED,
  attached: pb.ObserverEventKind.OBSERVER_EVENT_KIND_ATTACHED,
  detached: pb.ObserverEventKind.OBSERVER_EVENT_KIND_DETACHED,
  stolen: pb.ObserverEventKind.OBSERVER_EVENT_KIND_STOLEN,
  'descendant-started': pb.ObserverEventKind.OBSERVER_EVENT_KIND_DESCENDANT_STARTED,
  'descendant-exited': pb.ObserverEventKind.OBSERVER_EVENT_KIND_DESCENDANT_EXITED,
};

const CATEGORY_NUMBERS: Record<ObserverCategory, number> = {
  lifecycle: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_LIFECYCLE,
  process: pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_PROCESS,
};

function endFrame(how: ReceiverEnd) {
  switch (how.kind) {
    case 'session-ended': return { sessionEnded: true };
    case 'unregistered': return { unregistered: true };
    case 'error': return { error: how.message };
    case 'stolen': return { stolenBy: how.by };
  }
}

/** ObserverStreamFrame bodies. */
export const observerFrameCodec: ObserverFrameCodec = {
  event: (entry: SinkEntry<ObservedEvent>) => {
    const e = entry.event;
    return pb.ObserverStreamFrame.encode({
      event: {
        category: CATEGORY_NUMBERS[e.category], kind: KIND_NUMBERS[e.kind], pid: e.pid, timestampMs: e.timestampMs,
        exitCode: e.exitCode, stream: e.stream, detail: e.detail, seq: entry.seq,
      },
    }).finish();
  },
  missed: (n) => pb.ObserverStreamFrame.encode({ missedEvents: n }).finish(),
  end: (how) => pb.ObserverStreamFrame.encode(endFrame(how)).finish(),
};

function observersOf(state: DaemonState): SessionObservers {
  if (!state.observers || state.shuttingDown) throw new UnavailableError('session observers are not available (daemon starting or shutting down)');
  return state.observers;
}

/** The session id and kind a request names, checked without looking anything up. */
function checkSessionRef(sessionId: string, sessionKind: number): SessionKind {
  if (sessionId === '') throw new InvalidArgumentError('session_id must not be empty');
  if (sessionKind === pb.ObserverSessionKind.OBSERVER_SESSION_KIND_PTY) return 'pty';
  if (sessionKind === pb.ObserverSessionKind.OBSERVER_SESSION_KIND_PIPE) return 'pipe';
  throw new InvalidArgumentError(`session_kind must be OBSERVER_SESSION_KIND_PTY or OBSERVER_SESSION_KIND_PIPE, got ${enumLabel(pb.ObserverSessionKind, sessionKind)}`);
}

/** A subscription reference (session, kind, subscriber id), checked before any lookup. */
function checkSubscriberRef(req: { sessionId: string; sessionKind: number; subscriberId: string }): SessionKind {
  const kind = checkSessionRef(req.sessionId, req.sessionKind);
  if (req.subscriberId === '') throw new InvalidArgumentError('subscriber_id must not be empty');
  return kind;
}

/** The session of a checked reference: NOT_FOUND when there is none of that kind (as the reference). */
function lookupSession(ctx: HandlerContext, sessionId: string, kind: SessionKind): Session {
  const session = ctx.state.sessions?.find(sessionId);
  if (!session) throw new NotFoundError(`no ${kind.toUpperCase()} session with id ${JSON.stringify(sessionId)}`);
  if (session.kind !== kind) throw new NotFoundError(`no ${kind.toUpperCase()} session with id ${JSON.stringify(sessionId)} (it is a ${session.kind.toUpperCase()} session)`);
  return session;
}

function lookupSubscription(ctx: HandlerContext, req: { sessionId: string; sessionKind: number; subscriberId: string }): Subscription {
  const kind = checkSubscriberRef(req);
  const observers = observersOf(ctx.state);
  const session = lookupSession(ctx, req.sessionId, kind);
  const sub = observers.get(session, req.subscriberId);
  if (!sub) throw new NotFoundError(`session ${session.id} has no observer with subscriber_id ${JSON.stringify(req.subscriberId)}`);
  return sub;
}

/** Categories of a request (empty = lifecycle only); FILE and NETWORK are not observed here. */
function decodeCategories(raw: number[]): Set<ObserverCategory> {
  if (raw.length === 0) return new Set(['lifecycle']);
  const out = new Set<ObserverCategory>();
  const unobserved: string[] = [];
  for (const value of raw) {
    switch (value) {
      case pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_LIFECYCLE: out.add('lifecycle'); break;
      case pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_PROCESS: out.add('process'); break;
      case pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_FILE:
      case pb.ObserverEventCategory.OBSERVER_EVENT_CATEGORY_NETWORK:
        unobserved.push(enumLabel(pb.ObserverEventCategory, value));
        break;
      default:
        throw new InvalidArgumentError(`invalid observer category ${value}: categories are 0 (LIFECYCLE), 1 (FILE), 2 (NETWORK) and 3 (PROCESS)`);
    }
  }
  if (unobserved.length > 0) {
    throw new UnimplementedError(`${[...new Set(unobserved)].join(' and ')} ${unobserved.length > 1 ? 'are' : 'is'} not observed by this daemon ` +
      '(it has no file or network tracing): register OBSERVER_EVENT_CATEGORY_LIFECYCLE (0) and/or OBSERVER_EVENT_CATEGORY_PROCESS (3)');
  }
  return out;
}

function statusOf(sub: Subscription) {
  const st = sub.status();
  return {
    missedEvents: st.missedEvents, deliveredEvents: st.deliveredEvents, disconnected: st.disconnected,
    pendingEvents: st.pendingEvents, receiving: st.receiving,
  };
}

export const observerEntries: DispatchEntry[] = [
  unary(RequestType.REQUEST_TYPE_REGISTER_SESSION_OBSERVER, 'registerSessionObserver', (req, ctx) => {
    const kind = checkSessionRef(req.sessionId, req.sessionKind);
    const categories = decodeCategories(req.categories);
    if (req.ringCapacityEvents > MAX_RING_CAPACITY_EVENTS) {
      throw new InvalidArgumentError(`ring_capacity_events must be at most ${MAX_RING_CAPACITY_EVENTS} (0 = the default ${DEFAULT_RING_CAPACITY_EVENTS}), got ${req.ringCapacityEvents}`);
    }
    let mode: 'drop-oldest' | 'block';
    if (req.backpressure === pb.ObserverBackpressure.OBSERVER_BACKPRESSURE_DROP_OLDEST) mode = 'drop-oldest';
    else if (req.backpressure === pb.ObserverBackpressure.OBSERVER_BACKPRESSURE_BLOCK) mode = 'block';
    else throw new InvalidArgumentError(`backpressure must be OBSERVER_BACKPRESSURE_DROP_OLDEST or OBSERVER_BACKPRESSURE_BLOCK, got ${enumLabel(pb.ObserverBackpressure, req.backpressure)}`);
    const observers = observersOf(ctx.state);
    const session = lookupSession(ctx, req.sessionId, kind);
    const sub = observers.register(session, { categories, capacity: req.ringCapacityEvents || DEFAULT_RING_CAPACITY_EVENTS, mode });
    ctx.state.log.info(`observer ${sub.id} registered on ${kind} session ${session.id} by ${ctx.clientLabel} ` +
      `(${[...categories].join('+')}, ${sub.sink.capacity} events, ${mode})`);
    return { subscriberId: sub.id };
  }),

  unary(RequestType.REQUEST_TYPE_UNREGISTER_SESSION_OBSERVER, 'unregisterSessionObserver', (req, ctx) => {
    const sub = lookupSubscription(ctx, req);
    observersOf(ctx.state).unregister(lookupSession(ctx, req.sessionId, checkSubscriberRef(req)), sub.id);
    return {};
  }),

  unary(RequestType.REQUEST_TYPE_GET_SESSION_OBSERVER_STATUS, 'getSessionObserverStatus', (req, ctx) => statusOf(lookupSubscription(ctx, req))),

  // Ours: the connection becomes the subscription's receiver (queued events, then live ones).
  stream(RequestType.REQUEST_TYPE_STREAM_SESSION_OBSERVER, 'streamSessionObserver', (req, ctx) => {
    const sub = lookupSubscription(ctx, req);
    const before = sub.status();
    const receiver = sub.attachReceiver(ctx.clientLabel, req.steal);
    return {
      response: { pendingEvents: before.pendingEvents, missedEvents: before.missedEvents, deliveredEvents: before.deliveredEvents },
      start: (channel: StreamChannel) => receiver.start(channel),
    };
  }),
];
