// Prometheus metrics (runpmd --metrics HOST:PORT, off unless asked): request counts, latency
// and errors observed on the request path; session, attachment, ring, tee and service figures
// pulled from the subsystems at scrape time. prom-client is loaded only when metrics are on.
import * as http from 'node:http';
import type * as PromClient from 'prom-client';
import { RequestType, StatusCode } from '../wire/proto';
import type { Logger } from '../daemon/log';

/** A gauge value a subsystem reports at scrape time. */
export interface MetricSample {
  name: GaugeName;
  labels?: Record<string, string>;
  value: number;
}

/** Gauges subsystems may report (declared up front so every scrape has the same families). */
export const GAUGES = {
  runpm_sessions: { help: 'Sessions by kind (pty|pipe) and state (running|exited)', labels: ['kind', 'state'] },
  runpm_attachments: { help: 'Clients currently attached to session streams', labels: [] },
  runpm_ring_dropped_bytes: { help: 'Bytes dropped from session rings before any client saw them (cumulative)', labels: [] },
  runpm_tee_dropped_bytes: { help: 'Bytes tees could not write, by reason (queue_full|sink_failed) (cumulative)', labels: ['reason'] },
  runpm_session_observers: { help: 'Session observer subscriptions registered now', labels: [] },
  runpm_services: { help: 'Services by status', labels: ['status'] },
  runpm_service_restarts: { help: 'Restarts recorded across all services (the restart counts runpm list shows)', labels: [] },
  runpm_tracked_processes: { help: 'Processes in the registry', labels: [] },
} as const;
export type GaugeName = keyof typeof GAUGES;

/** What the metrics endpoint reads from the daemon, at scrape time. */
export interface MetricsDeps {
  log: Logger;
  /** Processes in the registry now. */
  trackedProcessCount: () => number;
  /** Gauge sources the subsystems registered (read at every scrape, so later additions count). */
  sources: ReadonlyArray<() => MetricSample[]>;
}

export class DaemonMetrics {
  private readonly registry: PromClient.Registry;
  private readonly requests: PromClient.Counter<'type'>;
  private readonly errors: PromClient.Counter<'code'>;
  private readonly latency: PromClient.Histogram<'type'>;
  private server: http.Server | null = null;

  constructor(private readonly deps: MetricsDeps) {
    const prom = require('prom-client') as typeof PromClient;
    this.registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: this.registry, prefix: 'runpmd_' });
    this.requests = new prom.Counter({ name: 'runpm_requests_total', help: 'Requests answered, by request type', labelNames: ['type'], registers: [this.registry] });
    this.errors = new prom.Counter({ name: 'runpm_request_errors_total', help: 'Non-OK responses, by status code', labelNames: ['code'], registers: [this.registry] });
    this.latency = new prom.Histogram({
      name: 'runpm_request_duration_seconds', help: 'Time from request decoded to response written, by request type',
      labelNames: ['type'], buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1, 5],
      registers: [this.registry],
    });
    const gauges = new Map<GaugeName, PromClient.Gauge<string>>();
    for (const [name, def] of Object.entries(GAUGES) as Array<[GaugeName, (typeof GAUGES)[GaugeName]]>) {
      gauges.set(name, new prom.Gauge({ name, help: def.help, labelNames: [...def.labels], registers: [this.registry] }));
    }
    // Pulled at scrape time: nothing on the session hot paths.
    new prom.Gauge({
      name: 'runpm_metrics_sources', help: 'Subsystems reporting gauges', registers: [this.registry],
      collect: () => {
        for (const gauge of gauges.values()) gauge.reset();
        gauges.get('runpm_tracked_processes')!.set(deps.trackedProcessCount());
        for (const source of deps.sources) {
          for (const sample of source()) gauges.get(sample.name)?.set(sample.labels ?? {}, sample.value);
        }
      },
    }).set(0);
  }

  /** Called once per answered request (connection.ts). */
  observeRequest(type: RequestType, code: StatusCode, seconds: number): void {
    const typeName = ((RequestType[type] as string | undefined) ?? `UNKNOWN_${type}`).replace(/^REQUEST_TYPE_/, '');
    this.requests.inc({ type: typeName });
    this.latency.observe({ type: typeName }, seconds);
    if (code !== StatusCode.STATUS_CODE_OK) {
      this.errors.inc({ code: ((StatusCode[code] as string | undefined) ?? String(code)).replace(/^STATUS_CODE_/, '') });
    }
  }

  /** The text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves GET /metrics on host:port (loopback unless a host is given). */
  async listen(address: string): Promise<{ host: string; port: number }> {
    const { host, port } = parseMetricsAddress(address);
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404).end('not found: try GET /metrics\n');
        return;
      }
      this.render().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address() as { address: string; port: number };
    this.deps.log.info(`metrics on http://${host}:${bound.port}/metrics`);
    return { host, port: bound.port };
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

/** "9100" → 127.0.0.1:9100; "0.0.0.0:9100" as given; "[::1]:9100" IPv6. Throws naming a bad value. */
export function parseMetricsAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--metrics expects HOST:PORT or PORT, got ${JSON.stringify(address)}`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
