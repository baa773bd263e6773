// Following service logs (SERVICE_LOGS with follow): the daemon answers with the tail, then streams
// ServiceLogFrames of new lines on a dedicated connection until close().
import { pb, RequestType } from '../wire/proto';
import { DaemonClient } from './daemon-client';

/** One line a service wrote after the follow began. */
export interface ServiceLogLine {
  service: string;
  serviceId: number;
  stream: 'out' | 'err';
  line: string;
}

/** An open follow: `tail` is the labelled tail; iterate for new lines; close() ends it. */
export interface ServiceLogFollow extends AsyncIterable<ServiceLogLine> {
  tail: string;
  close(): void;
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * ServiceLogs with follow: the last `lines` lines of each stream (labelled like serviceLogs),
     * then every line written afterwards, as the daemon reads them. A reader that falls behind
     * slows the daemon's reading of the files; it loses nothing.
     */
    followServiceLogs(opts?: { target?: string; lines?: number; outOnly?: boolean; errOnly?: boolean }): Promise<ServiceLogFollow>;
  }
}

DaemonClient.prototype.followServiceLogs = async function (this: DaemonClient, o = {}) {
  const { response, frames } = await this.openStream(RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs',
    { target: o.target ?? '', lines: o.lines ?? 0, outOnly: o.outOnly ?? false, errOnly: o.errOnly ?? false, follow: true });
  return {
    tail: response.logText,
    close: () => frames.close(),
    async *[Symbol.asyncIterator]() {
      for await (const body of frames) {
        const f = pb.ServiceLogFrame.decode(body);
        for (const line of f.lines) yield { service: f.service, serviceId: f.serviceId, stream: f.stream as 'out' | 'err', line };
      }
    },
  };
};
