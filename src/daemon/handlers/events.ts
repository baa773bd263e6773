// SUBSCRIBE_EVENTS: streams DaemonEvent frames to a client until it disconnects. A subscriber
// that does not read has at most MAX_PENDING_EVENTS queued; beyond that the oldest are dropped
// and one `events.dropped` event with the count is sent when it catches up.
import { pb, RequestType } from '../../wire/proto';
import { stream, type DispatchEntry, type StreamChannel } from '../dispatch';
import type { DaemonEventRecord, EventBus } from '../../events/event-bus';

const MAX_PENDING_EVENTS = 1024;

function encodeEvent(event: DaemonEventRecord): Uint8Array {
  return pb.DaemonEvent.encode(event).finish();
}

/** Pumps events from the bus to one subscriber, bounded. */
function pumpEvents(bus: EventBus, channel: StreamChannel, kinds: string[], backlog: DaemonEventRecord[]): void {
  const wanted = (e: DaemonEventRecord) => kinds.length === 0 || kinds.some((k) => e.kind.startsWith(k));
  const pending: DaemonEventRecord[] = backlog.filter(wanted);
  let dropped = 0;
  let waitingForDrain = false;
  const flush = () => {
    while (!waitingForDrain && !channel.closed) {
      let event: DaemonEventRecord | undefined;
      if (dropped > 0) {
        event = { seq: 0, atMs: Date.now(), kind: 'events.dropped', detail: String(dropped) };
        dropped = 0;
      } else {
        event = pending.shift();
      }
      if (!event) return;
      if (!channel.writeFrame(encodeEvent(event))) {
        waitingForDrain = true;
        channel.socket.once('drain', () => {
          waitingForDrain = false;
          flush();
        });
      }
    }
  };
  const unsubscribe = bus.subscribe((event) => {
    if (!wanted(event)) return;
    pending.push(event);
    if (pending.length > MAX_PENDING_EVENTS) {
      pending.shift();
      dropped++;
    }
    flush();
  });
  channel.onInput(() => {}); // subscribers send nothing; stray frames are ignored
  channel.onClose(unsubscribe);
  flush();
}

export const eventEntries: DispatchEntry[] = [
  stream(RequestType.REQUEST_TYPE_SUBSCRIBE_EVENTS, 'subscribeEvents', (req, { state }) => {
    const bus = state.events;
    const backlog = req.sinceSeq > 0 ? bus.since(req.sinceSeq) : [];
    return {
      response: { nextSeq: bus.nextSeq, runId: bus.runId },
      start: (channel) => pumpEvents(bus, channel, req.kinds.filter((k) => k.length > 0), backlog),
    };
  }),
];
