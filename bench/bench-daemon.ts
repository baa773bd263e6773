// A real runpmd for one figure of the benchmark: started from this checkout's bin/runpmd in a
// fresh home under the run's work directory, stopped (and its home removed) by stop().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type DaemonClient } from '../src/client';
import { resolveScopePaths, type ScopePaths } from '../src/scope/paths';

/** The repository root (dist/bench/ → ../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const RUNPMD = path.join(REPO_ROOT, 'bin', 'runpmd');
export const RUNPM = path.join(REPO_ROOT, 'bin', 'runpm');

export interface BenchDaemon {
  home: string;
  scope: string;
  paths: ScopePaths;
  proc: ChildProcess;
  /** A connected client (closed by stop()). */
  client: DaemonClient;
  /** Environment that points bin/runpm at this daemon. */
  env: NodeJS.ProcessEnv;
  /** SHUTDOWN (SIGKILL if it does not exit within 10 s) and remove the home. */
  stop(): Promise<void>;
}

/** Starts runpmd (no emergency reserve, quiet) in workDir/<name>-home and connects a client. */
export async function startBenchDaemon(workDir: string, name: string, extraArgs: string[] = []): Promise<BenchDaemon> {
  const home = fs.mkdtempSync(path.join(workDir, `${name}-`));
  const scope = 'bench';
  const proc = spawn(process.execPath, [RUNPMD, '--scope', scope, '--home', home, '--reserve-bytes', '0', '--quiet', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const paths = resolveScopePaths({ scope, home });
  const deadline = Date.now() + 10_000;
  let client: DaemonClient | null = null;
  while (!client) {
    if (proc.exitCode !== null) throw new Error(`runpmd exited early (${proc.exitCode}): ${stderr.trim()}`);
    try {
      client = await connect({ scope, home, autoStart: false, clientName: `bench ${name}` });
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`runpmd did not listen on ${paths.socketPath} within 10 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const connected = client;
  let stopped = false;
  return {
    home, scope, paths, proc, client: connected,
    env: { ...process.env, RUNPM_HOME: home, RUNPM_SCOPE: scope },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          await connected.shutdown({ graceful: false }, { timeoutMs: 5000 });
        } catch {
          proc.kill('SIGKILL');
        }
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      connected.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
