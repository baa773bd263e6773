// SERVICE_LOGS and SERVICE_FLUSH: the last lines of services' logs, and with follow the lines
// written after them, streamed as ServiceLogFrames until the client closes; emptying the logs.
import { pb, RequestType } from '../../wire/proto';
import { InvalidArgumentError, UnavailableError } from '../../wire/errors';
import { stream, unary, type DispatchEntry, type HandlerContext, type StreamChannel } from '../dispatch';
import type { ServiceManager } from '../../services/service-manager';
import type { Service } from '../../services/service';
import type { EventBus } from '../../events/event-bus';
import { flushLog, tailLines, MAX_TAIL_BYTES_PER_FILE } from '../../services/log-files';
import { LogFollower, type FollowTarget, type LogChunk, type LogStream } from '../../services/log-follow';

/** Lines ServiceLogs returns when the request says 0 (pm2's default). */
const DEFAULT_LOG_LINES = 15;
const MAX_LOG_LINES = 10_000;
/** Upper bound of one ServiceLogs answer; split evenly over the files asked for. */
const MAX_LOGS_RESPONSE_BYTES = 4 * 1024 * 1024;

function managerOf(ctx: HandlerContext): ServiceManager {
  const m = ctx.state.services;
  if (!m) throw new UnavailableError('services are not available in this daemon (database not open)');
  return m;
}

interface LogsRequest {
  target: string;
  lines: number;
  outOnly: boolean;
  errOnly: boolean;
}

function streamsOf(req: LogsRequest): LogStream[] {
  return (['out', 'err'] as const).filter((k) => (k === 'out' ? !req.errOnly : !req.outOnly));
}

/** The labelled tail of every file asked for, and where each file's follow starts. */
function readTails(m: ServiceManager, services: Service[], req: LogsRequest): { text: string; targets: FollowTarget[] } {
  if (req.outOnly && req.errOnly) throw new InvalidArgumentError('out_only and err_only exclude each other (leave both false for both streams)');
  if (req.lines > MAX_LOG_LINES) throw new InvalidArgumentError(`lines must be at most ${MAX_LOG_LINES}, got ${req.lines}`);
  const lines = req.lines || DEFAULT_LOG_LINES;
  const streams = streamsOf(req);
  const files = services.length * streams.length;
  const perFileBytes = Math.max(4096, Math.min(MAX_TAIL_BYTES_PER_FILE, Math.floor(MAX_LOGS_RESPONSE_BYTES / Math.max(1, files))));
  const out: string[] = [];
  const targets: FollowTarget[] = [];
  for (const svc of services) {
    const paths = m.logPaths(svc);
    for (const k of streams) {
      const tail = tailLines(paths[k], lines, perFileBytes);
      for (const line of tail.lines) out.push(`[${svc.name}:${k}] ${line}`);
      targets.push({ service: svc.name, serviceId: svc.row.id, stream: k, path: paths[k], offset: tail.end });
    }
  }
  return { text: out.length > 0 ? `${out.join('\n')}\n` : '', targets };
}

/**
 * Streams new log lines to one client until it closes. Reading pauses while the socket is full.
 * With target all, services defined later are followed from their first service.status event.
 */
function pumpLogs(m: ServiceManager, events: EventBus, channel: StreamChannel, req: LogsRequest, targets: FollowTarget[]): void {
  const follower = new LogFollower((chunk: LogChunk) => {
    if (channel.closed) return false;
    const ok = channel.writeFrame(pb.ServiceLogFrame.encode(chunk).finish());
    if (!ok) channel.socket.once('drain', () => follower.resume());
    return ok;
  });
  const followed = new Set(targets.map((t) => t.serviceId));
  const all = req.target === '' || req.target === 'all';
  const unsubscribe = all ? events.subscribe((event) => {
    if (event.kind !== 'service.status' || !event.service) return;
    for (const svc of m.list()) {
      if (followed.has(svc.row.id)) continue;
      followed.add(svc.row.id);
      const paths = m.logPaths(svc);
      for (const k of streamsOf(req)) follower.add({ service: svc.name, serviceId: svc.row.id, stream: k, path: paths[k], offset: 0 });
    }
  }) : () => undefined;
  channel.onInput(() => {}); // followers send nothing; stray frames are ignored
  channel.onClose(() => {
    unsubscribe();
    follower.close();
  });
  follower.start(targets);
}

export const serviceLogEntries: DispatchEntry[] = [
  stream(RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs', (req, ctx) => {
    const m = managerOf(ctx);
    const { text, targets } = readTails(m, m.resolveOrAll(req.target), req);
    if (!req.follow) return { response: { logText: text } };
    return { response: { logText: text }, start: (channel) => pumpLogs(m, ctx.state.events, channel, req, targets) };
  }),

  unary(RequestType.REQUEST_TYPE_SERVICE_FLUSH, 'serviceFlush', (req, ctx) => {
    const m = managerOf(ctx);
    const services = m.resolveOrAll(req.target);
    for (const svc of services) {
      const paths = m.logPaths(svc);
      flushLog(paths.out);
      flushLog(paths.err);
      flushLog(paths.combined);
    }
    return { flushedCount: services.length };
  }),
];
