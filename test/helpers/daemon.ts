// startDaemon(): a real runpmd in a fresh temporary RUNPM_HOME, driven through the real client.
// Every test that starts one stops it (and its children) in afterEach/afterAll via stop().
// KEEP_TEST_DIRS=1 keeps the directory for inspection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type ConnectOptions } from '../../src/client/connect';
import type { DaemonClient } from '../../src/client/daemon-client';
import { resolveScopePaths, type ScopePaths } from '../../src/scope/paths';

export const ROOT = path.resolve(__dirname, '..', '..');
export const RUNPMD = path.join(ROOT, 'bin', 'runpmd');
export const RUNPM = path.join(ROOT, 'bin', 'runpm');

export interface TestDaemon {
  home: string;
  scope: string;
  paths: ScopePaths;
  proc: ChildProcess;
  pid: number;
  /** A connected client (closed by stop()). */
  client: DaemonClient;
  /** Opens another client connection. */
  connect(extra?: Partial<ConnectOptions>): Promise<DaemonClient>;
  /** Environment for running bin/runpm against this daemon. */
  env: NodeJS.ProcessEnv;
  /** Daemon stderr so far. */
  stderr(): string;
  /** SHUTDOWN (or SIGKILL after a deadline) and remove the home. */
  stop(): Promise<void>;
  /** Resolves with the exit code once the daemon process has exited. */
  exited: Promise<number | null>;
}

/** Polls cond until it is truthy or the deadline passes (then throws naming what). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000, intervalMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await cond();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs)); // poll interval until the deadline
  }
}

/** Makes a fresh private temp dir (short path: unix socket paths are limited to 107 bytes). */
export function makeTempHome(prefix = 'rp-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface StartOptions {
  args?: string[];
  scope?: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts runpmd in the foreground (as a child of the test) and connects a client. */
export async function startDaemon(opts: StartOptions = {}): Promise<TestDaemon> {
  const home = opts.home ?? makeTempHome();
  const scope = opts.scope ?? 'test';
  const env = { ...process.env, RUNPM_HOME: home, RUNPM_SCOPE: scope, ...opts.env };
  const proc = spawn(process.execPath, [RUNPMD, '--scope', scope, '--home', home, '--reserve-bytes', '0', ...(opts.args ?? [])], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const paths = resolveScopePaths({ scope, home });
  let early: number | null | undefined;
  void exited.then((c) => (early = c));
  const connectOpts: ConnectOptions = { scope, home, autoStart: false };
  // A stale socket file may exist before the daemon listens: wait for a connect that succeeds.
  let client: DaemonClient | null = null;
  try {
    await waitFor(async () => {
      if (early !== undefined) return true;
      try {
        client = await connect(connectOpts);
        return true;
      } catch {
        return false;
      }
    }, `runpmd socket ${paths.socketPath}`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  if (early !== undefined || !client) throw new Error(`runpmd exited early (${early}): ${stderr}`);
  const clients: DaemonClient[] = [client];
  const firstClient: DaemonClient = client;
  let stopped = false;
  return {
    home, scope, paths, proc, pid: proc.pid!, client: firstClient, env, exited,
    stderr: () => stderr,
    connect: async (extra = {}) => {
      const c = await connect({ ...connectOpts, ...extra });
      clients.push(c);
      return c;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          const c = await connect({ ...connectOpts, callTimeoutMs: 5000 });
          await c.shutdown({ graceful: false });
          c.close();
        } catch {
          proc.kill('SIGKILL');
        }
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000); // deadline for a clean exit
        await exited;
        clearTimeout(timer);
      }
      for (const c of clients) c.close();
      if (!process.env.KEEP_TEST_DIRS) fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Runs bin/runpm with args; resolves with code, stdout and stderr. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPM, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** True while a process with this pid exists (zombies count as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
