// A daemon that does not answer (SIGSTOP) is reported within 5 s, naming its pid, instead of the
// 30 s call timeout; a daemon busy with a long request is not (it answers the probe's PING), and
// neither is one whose PING goes unanswered while it keeps using CPU (a loaded machine), up to
// BUSY_GRACE_MS. The last two use a stand-in daemon: a process holding the scope's socket and lock
// that never answers, idle or spinning.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect';
import '../../src/client/index';
import { makeTempHome, runCli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { WireError } from '../../src/wire/errors';

let daemon: TestDaemon | null = null;
let standIn: ChildProcess | null = null;
let home: string | null = null;
afterEach(async () => {
  if (daemon) process.kill(daemon.pid, 'SIGCONT');
  await daemon?.stop();
  daemon = null;
  standIn?.kill('SIGKILL');
  standIn = null;
  if (home) fs.rmSync(home, { recursive: true, force: true });
  home = null;
});

/**
 * A process that listens on the scope's socket, writes the lock, reads and never answers; `spinMs`
 * > 0 keeps it on the CPU that long (then it closes every connection and exits).
 */
async function startStandIn(spinMs: number): Promise<{ scope: string; home: string }> {
  home = makeTempHome();
  const dir = path.join(home, 'test');
  fs.mkdirSync(dir, { mode: 0o700 });
  const script = `
    const net = require('net'); const fs = require('fs');
    fs.writeFileSync(${JSON.stringify(path.join(dir, 'daemon.sock.pid'))}, process.pid + '\\n');
    const conns = [];
    // Never reads, like a daemon whose event loop is blocked: the bytes wait in the socket.
    const server = net.createServer((c) => { conns.push(c); c.pause(); c.on('error', () => {}); });
    server.listen(${JSON.stringify(path.join(dir, 'daemon.sock'))}, () => {
      fs.chmodSync(${JSON.stringify(path.join(dir, 'daemon.sock'))}, 0o600);
      process.stdout.write('ready\\n');
      if (${spinMs} > 0) {
        // Wait for the first connection, then spin: no event is handled meanwhile.
        server.once('connection', () => setImmediate(() => {
          const end = Date.now() + ${spinMs};
          while (Date.now() < end) {}
          for (const c of conns) c.destroy();
          process.exit(0);
        }));
      }
    });`;
  standIn = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  standIn.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('ready'), 'the stand-in daemon listening');
  return { scope: 'test', home };
}

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('the call succeeded');
}

describe('a daemon that does not answer', () => {
  it('runpm says "runpmd (pid N) is not responding" within 5 s when the daemon is stopped', async () => {
    daemon = await startDaemon();
    process.kill(daemon.pid, 'SIGSTOP');
    const started = performance.now();
    const r = await runCli(['list'], daemon.env);
    const ms = performance.now() - started;
    console.log(`runpm list against a SIGSTOPped daemon failed after ${ms.toFixed(0)} ms: ${r.stderr.trim()}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`runpmd (pid ${daemon.pid}) is not responding`);
    // The process is seen stopped when the call has been silent for 1.5 s; the rest is the CLI's start.
    expect(r.stderr).toContain('the process is stopped');
    expect(ms).toBeLessThan(5000);
  });

  it('a daemon that is silent and idle (hung) is declared not responding within about 4.5 s', async () => {
    const where = await startStandIn(0);
    const client = await connect({ ...where, autoStart: false });
    const started = performance.now();
    const err = await failureOf(client.listPipes());
    const ms = performance.now() - started;
    client.close();
    console.log(`a silent idle stand-in: ${err.message} after ${ms.toFixed(0)} ms`);
    expect((err as WireError).code).toBe('ERR_NOT_RESPONDING');
    expect(err.message).toContain(`runpmd (pid ${standIn!.pid}) is not responding`);
    expect(ms).toBeLessThan(6000); // 1.5 s of silence + a 3 s probe, on a loaded machine
  });

  it('a daemon whose PING goes unanswered while it keeps using CPU is busy, not declared dead', async () => {
    const where = await startStandIn(8000);
    const client = await connect({ ...where, autoStart: false });
    const started = performance.now();
    const err = await failureOf(client.listPipes());
    const ms = performance.now() - started;
    client.close();
    console.log(`a spinning stand-in: ${err.message} after ${ms.toFixed(0)} ms`);
    // It ends by closing the connection after 8 s of spinning: that, not "not responding", is what the call sees.
    expect((err as WireError).code).not.toBe('ERR_NOT_RESPONDING');
    expect(ms).toBeGreaterThan(7000);
  });

  it('a long request to a live daemon is not cut short by the probe', async () => {
    daemon = await startDaemon();
    // exec-style wait: the daemon is silent on this connection for 3 s but answers the probe's PING.
    const r = await runCli(['exec', '--timeout', '8000', '--', 'sh', '-c', 'sleep 3; echo done'], daemon.env);
    expect(r.stderr, JSON.stringify(r)).not.toContain('not responding');
    expect(r.stdout, JSON.stringify(r)).toContain('done');
  });
});
