// runpm daemon start|stop|status|ping: the scope's daemon itself.
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { action, connectFor, emit, globalsOf, withClient } from '../context';

export function registerDaemonCommands(program: Command): void {
  const daemon = program.command('daemon').description('start, stop and inspect the scope\'s daemon');

  daemon.command('start')
    .description('start runpmd for the scope (no-op when it is running)')
    .action(action(async (_opts, cmd: Command) => {
      const { resolveScopePaths } = require('../../scope/paths') as typeof import('../../scope/paths');
      const g = globalsOf(cmd);
      const paths = resolveScopePaths({ scope: g.scope, home: g.home, socket: g.socket });
      const wasRunning = await isRunning(cmd);
      const client = await connectFor(cmd, { autoStart: true });
      const status = await client.status();
      client.close();
      emit(cmd, { started: !wasRunning, pid: readPid(paths.lockPath), scope: status.scope, socket: status.socketPath },
        () => `runpmd ${wasRunning ? 'already running' : 'started'} (scope ${status.scope}, pid ${readPid(paths.lockPath) ?? '?'}, socket ${status.socketPath})`);
    }));

  daemon.command('stop')
    .description('stop runpmd: sessions get SIGTERM, then SIGKILL after the timeout')
    .option('--timeout <seconds>', 'grace before SIGKILL', '5')
    .option('--force', 'SIGKILL sessions at once', false)
    .action(action(async (opts: { timeout: string; force: boolean }, cmd: Command) => {
      const timeoutSeconds = Number(opts.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw new Error(`--timeout must be a non-negative number, got ${JSON.stringify(opts.timeout)}`);
      let client;
      try {
        client = await connectFor(cmd, { autoStart: false });
      } catch (err) {
        if ((err as Error).name !== 'DaemonNotRunningError') throw err;
        emit(cmd, { stopped: false, running: false }, () => 'runpmd is not running');
        return;
      }
      const paths = client.paths;
      const pid = readPid(paths.lockPath);
      await client.shutdown({ graceful: !opts.force, timeoutSeconds });
      await waitForClose(client);
      await waitUntil(() => !fs.existsSync(paths.socketPath), (timeoutSeconds + 10) * 1000);
      emit(cmd, { stopped: true, pid }, () => `runpmd stopped (pid ${pid ?? '?'})`);
    }));

  daemon.command('status')
    .description('show the daemon\'s status')
    .action(action(async (_opts, cmd: Command) => {
      const status = await withClient(cmd, (c) => c.status(), { autoStart: false });
      const pid = readPid(`${status.socketPath}.pid`);
      emit(cmd, { pid, ...status }, () => [
        `runpmd ${status.version} (pid ${pid ?? '?'}) scope ${status.scope}`,
        `  uptime:           ${status.uptimeSeconds}s`,
        `  connections:      ${status.activeConnections}`,
        `  tracked:          ${status.trackedProcessCount}`,
        `  socket:           ${status.socketPath}`,
        `  registry:         ${status.dbPath}`,
        `  scope hash:       ${status.scopeHash}`,
        `  started in:       ${status.scopeCwd}`,
        `  emergency reserve: ${status.emergencyReserve}`,
      ].join('\n'));
    }));

  daemon.command('ping')
    .description('round trip to the daemon')
    .action(action(async (_opts, cmd: Command) => {
      const started = process.hrtime.bigint();
      const pong = await withClient(cmd, (c) => c.ping(), { autoStart: false });
      const roundTripMs = Number(process.hrtime.bigint() - started) / 1e6;
      emit(cmd, { serverTimeMs: pong.serverTimeMs, roundTripMs }, () => `pong (${roundTripMs.toFixed(2)} ms)`);
    }));
}

async function isRunning(cmd: Command): Promise<boolean> {
  try {
    (await connectFor(cmd, { autoStart: false })).close();
    return true;
  } catch {
    return false;
  }
}

function readPid(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isFinite(pid) ? pid : null;
  } catch {
    return null;
  }
}

function waitForClose(client: { ping(): Promise<unknown> }): Promise<void> {
  // The daemon closes every connection as its last step; a failing ping means it is gone.
  return waitUntilAsync(async () => {
    try {
      await client.ping();
      return false;
    } catch {
      return true;
    }
  }, 60_000);
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  await waitUntilAsync(async () => cond(), timeoutMs);
}

async function waitUntilAsync(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the daemon to stop`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
