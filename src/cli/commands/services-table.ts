// Text output of the service commands: the pm2-like list table (colour only on a TTY) and the
// describe sheet. Pure formatting of ServiceInfo; nothing here talks to the daemon.
import type { ServiceInfo } from '../../client/services-api';

const COLORS: Record<string, string> = { online: '32', starting: '33', waiting: '33', stopping: '33', errored: '31', stopped: '90' };

/** True when stdout is a terminal and NO_COLOR is unset. */
export function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

function paint(text: string, code: string | undefined, color: boolean): string {
  return color && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** 3661 s → "1h", 75 s → "1m", 5 s → "5s" (pm2 style). */
export function formatUptime(startedAtSeconds: number, nowMs = Date.now()): string {
  if (!startedAtSeconds) return '0';
  const s = Math.max(0, Math.floor(nowMs / 1000 - startedAtSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}D`;
}

/** Bytes → "12.3mb" (pm2 style). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n}b`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}kb`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)}mb`;
  return `${(n / 1024 ** 3).toFixed(1)}gb`;
}

/** The list table: id, name, status, pid, uptime, restarts, cpu, mem. */
export function formatServiceTable(services: ServiceInfo[], color = useColor()): string {
  if (services.length === 0) return 'no services (start one with: runpm start CMD... or runpm start ecosystem.config.js)';
  const header = ['id', 'name', 'status', 'pid', 'uptime', '↺', 'cpu', 'mem'];
  const rows = services.map((s) => {
    const running = s.pid !== 0;
    return [String(s.id), s.name, s.status, running ? String(s.pid) : '-', running ? formatUptime(s.lastStartedAt) : '0',
      String(s.restartCount), running ? `${Math.round(s.cpuPercent)}%` : '0%', running ? formatBytes(Number(s.memoryBytes)) : '0b'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[], statusColor?: string) => cells.map((cell, i) => {
    const padded = cell.padEnd(widths[i]);
    if (i === 2) return paint(padded, statusColor, color);
    return padded;
  }).join('  ').trimEnd();
  return [paint(line(header), '1', color), ...rows.map((r) => line(r, COLORS[r[2]]))].join('\n');
}

/** The describe sheet of one service, rows labelled as pm2's describe labels them (env values included: describe is about one service). */
export function formatServiceSheet(s: ServiceInfo, color = useColor()): string {
  const c = s.config;
  const { describeArgv } = require('./pm2-interpreter') as typeof import('./pm2-interpreter');
  const argv = describeArgv(c.cmd);
  const rows: Array<[string, string]> = [
    ['id', String(s.id)],
    ['name', s.name],
    ['namespace', c.namespace || 'default'],
    ['status', paint(s.status, COLORS[s.status], color)],
    ['pid', s.pid ? String(s.pid) : '-'],
    ['uptime', s.pid ? formatUptime(s.lastStartedAt) : '0'],
    ['restarts', String(s.restartCount)],
    ['unstable restarts', String(s.unstableRestarts)],
    ['backoff', `${s.backoffMs} ms`],
    ['created at', s.createdAt ? new Date(s.createdAt * 1000).toISOString() : '-'],
    ['last started', s.lastStartedAt ? new Date(s.lastStartedAt * 1000).toISOString() : '-'],
    ['last exited', s.lastExitedAt ? `${new Date(s.lastExitedAt * 1000).toISOString()} (code ${s.lastExitCode === -1 ? 'unknown' : s.lastExitCode})` : '-'],
    ['last error', s.lastError || '-'],
    ['script path', argv.execPath],
    ['script args', argv.args.length ? argv.args.map(shellWord).join(' ') : '-'],
    ['interpreter', argv.interpreter],
    ['interpreter args', argv.interpreterArgs.length ? argv.interpreterArgs.map(shellWord).join(' ') : '-'],
    ['command', c.cmd.map(shellWord).join(' ')],
    ['exec cwd', c.cwd],
    ['exec mode', c.execMode === 'cluster' ? 'cluster_mode' : 'fork_mode'],
    ['instances', String(c.instances || 1)],
    ['autorestart', String(c.autorestart)],
    ['max restarts', c.maxRestarts ? String(c.maxRestarts) : 'default (16)'],
    ['restart delay', c.restartDelayMs ? `${c.restartDelayMs} ms` : '0'],
    ['kill timeout', c.killTimeoutMs ? `${c.killTimeoutMs} ms` : 'default (1600 ms)'],
    ['min uptime', c.minUptimeMs ? `${c.minUptimeMs} ms` : 'default (1000 ms)'],
    ['watch & reload', c.watch ? `yes (${c.watchPaths.length ? c.watchPaths.join(', ') : 'cwd'})` : 'no'],
    ['cron restart', c.cronRestart || '-'],
    ['max memory restart', c.maxMemoryRestartBytes ? formatBytes(Number(c.maxMemoryRestartBytes)) : '-'],
    ['depends on', c.dependsOn.length ? c.dependsOn.join(', ') : '-'],
    ['log rotation', `${c.logMaxBytes ? formatBytes(Number(c.logMaxBytes)) : 'daemon default'} × ${c.logMaxFiles || 'daemon default'} files`],
    ['out log path', s.outLogPath],
    ['error log path', s.errLogPath],
  ];
  // pm2 shows these rows only when the app has them.
  if (s.combinedLogPath) rows.push(['entire log path', s.combinedLogPath]);
  if (s.pidFilePath) rows.push(['pid path', s.pidFilePath]);
  rows.push(['cpu / mem', s.pid ? `${Math.round(s.cpuPercent)}% / ${formatBytes(Number(s.memoryBytes))}` : '-']);
  for (const [k, v] of Object.entries(c.env ?? {})) rows.push([`env ${k}`, v]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

function shellWord(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a);
}
