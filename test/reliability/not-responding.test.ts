// A daemon that does not answer (SIGSTOP) is reported within 5 s, naming its pid, instead of the
// 30 s call timeout; a daemon busy with a long request is not (it answers the probe's PING).
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, type TestDaemon } from '../helpers/daemon';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  if (daemon) process.kill(daemon.pid, 'SIGCONT');
  await daemon?.stop();
  daemon = null;
});

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
    // Generous for a loaded machine: the client gives up at about 4.5 s.
    expect(ms).toBeLessThan(8000);
  });

  it('a long request to a live daemon is not cut short by the probe', async () => {
    daemon = await startDaemon();
    // exec-style wait: the daemon is silent on this connection for 3 s but answers the probe's PING.
    const r = await runCli(['exec', '--timeout', '8000', '--', 'sh', '-c', 'sleep 3; echo done'], daemon.env);
    expect(r.stderr, JSON.stringify(r)).not.toContain('not responding');
    expect(r.stdout, JSON.stringify(r)).toContain('done');
  });
});
