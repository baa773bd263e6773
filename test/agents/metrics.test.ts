// The Prometheus endpoint: off unless asked, loopback by default, counters move with requests.
import * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { parseMetricsAddress } from '../../src/metrics/metrics';
import { RequestType } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

describe('metrics endpoint', () => {
  it('parses addresses and defaults to loopback', () => {
    expect(parseMetricsAddress('9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseMetricsAddress('0.0.0.0:9100')).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseMetricsAddress('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseMetricsAddress('localhost:http')).toThrow(/HOST:PORT or PORT, got "localhost:http"/);
  });

  it('serves request counts, errors by code and latency that move with traffic', async () => {
    daemon = await startDaemon({ args: ['--metrics', '127.0.0.1:0'] });
    const url = await waitFor(() => /metrics on (http:\/\/\S+)/.exec(daemon!.stderr())?.[1], 'metrics address in the log');
    for (let i = 0; i < 5; i++) await daemon.client.ping();
    await daemon.client.send(999 as RequestType, null, null);
    const first = await get(url);
    expect(first.status).toBe(200);
    expect(sample(first.body, 'runpm_requests_total', 'type="PING"')).toBe(5);
    expect(sample(first.body, 'runpm_request_errors_total', 'code="UNKNOWN_REQUEST"')).toBe(1);
    expect(first.body).toContain('runpm_request_duration_seconds_bucket{le="0.001",type="PING"}');
    expect(first.body).toContain('# HELP runpm_tee_dropped_bytes');
    expect(first.body).toContain('runpm_tracked_processes 0');
    for (let i = 0; i < 3; i++) await daemon.client.ping();
    const second = await get(url);
    expect(sample(second.body, 'runpm_requests_total', 'type="PING"')).toBe(8);
    expect((await get(url.replace('/metrics', '/nope'))).status).toBe(404);
  });

  it('is off unless asked', async () => {
    daemon = await startDaemon();
    await daemon.client.ping();
    expect(daemon.stderr()).not.toContain('metrics on');
  });

  it('refuses a bad --metrics address with a clear error', async () => {
    await expect(startDaemon({ args: ['--metrics', 'nonsense'] })).rejects.toThrow(/--metrics expects HOST:PORT or PORT, got "nonsense"/);
  });
});
