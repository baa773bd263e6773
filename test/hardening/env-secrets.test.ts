// Black-box: env values given to sessions, SpawnDaemon children, services and the daemon's --env
// defaults never show in STATUS, in list outputs (runpm --json sessions / list / ps), in error
// messages, or in daemon.log. Decision: `runpm describe` does show a service's env (as pm2 does):
// only the owner can reach the socket, and the values are the owner's own config.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, runCli, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client';
import { shService, waitStatus } from '../services/helpers';

let daemon: TestDaemon | null = null;
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
});

/** Resolves with the error's message (or fails the test if the call succeeded). */
async function messageOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected the call to fail').toBeInstanceOf(Error);
  return (err as Error).message;
}

describe('env values stay out of outputs and logs', () => {
  it('sessions, SpawnDaemon, services and --env defaults: no secret in STATUS, lists, errors or daemon.log', async () => {
    const secret = `s3cret-${randomBytes(8).toString('hex')}`;
    const defaultSecret = `d3fault-${randomBytes(8).toString('hex')}`;
    daemon = await startDaemon({ args: ['--env', `DEFAULT_TOKEN=${defaultSecret}`] });
    const c = daemon.client;
    const env = { TOKEN: secret };

    const s = await c.spawnPipe({ argv: ['sh', '-c', 'echo ready; exec sleep 300'], env, originator: 'secret-test:1' });
    await waitFor(async () => (await c.backlog(s.sessionId)).backlog.length > 0, 'session up');
    const row = await c.spawnDaemon({ command: 'exec sleep 300', env: [{ key: 'TOKEN', value: secret }], originator: 'secret-test:1' });
    strays.push(row.pid);
    await c.startService(shService('holder', 'exec sleep 300', { env }));
    await waitStatus(c, 'holder', 'online');
    // A service whose spawn fails, and requests refused for their env: the errors stay clean too.
    await c.startService({ name: 'broken', cmd: ['/no/such/binary'], env, autorestart: false });
    await waitFor(async () => (await c.listServices()).find((x) => x.name === 'broken')?.status === 'errored', 'broken errored');
    const errors = [
      await messageOf(c.spawnPipe({ argv: ['/no/such/binary'], env })),
      await messageOf(c.spawnPipe({ argv: ['true'], env: [{ key: 'BAD=KEY', value: secret }] })),
      await messageOf(c.spawnDaemon({ command: 'true', env: [{ key: 'BAD=KEY', value: secret }] })),
      await messageOf(c.startService({ name: 'bad', cmd: ['true'], env: { 'BAD=KEY': secret } })),
    ];

    const outputs: Record<string, string> = {
      status: JSON.stringify(await c.status()),
      listServices: JSON.stringify(await c.listServices()),
      listPipes: JSON.stringify(await c.listPipes()),
      listActive: JSON.stringify(await c.listActive()),
      errors: errors.join('\n'),
    };
    for (const args of [['--json', 'sessions'], ['--json', 'list'], ['ps', '--json'], ['--json', 'daemon', 'status'], ['list']]) {
      const r = await runCli(args, daemon.env);
      expect(r.code, `runpm ${args.join(' ')}: ${r.stderr}`).toBe(0);
      outputs[`runpm ${args.join(' ')}`] = r.stdout + r.stderr;
    }
    // The lists did list our things (so the checks below are not vacuous).
    expect(outputs['runpm --json sessions']).toContain(s.sessionId);
    expect(outputs['runpm --json list']).toContain('holder');
    expect(outputs['runpm ps --json']).toContain(String(row.pid));

    await c.stopService('holder');
    await c.terminate(s.sessionId, 200);
    await waitFor(async () => (await c.listPipes())[0]?.exited, 'session exit');
    outputs['daemon.log'] = fs.readFileSync(daemon.paths.daemonLogPath, 'utf8');
    outputs['daemon stderr'] = daemon.stderr();
    expect(outputs['daemon.log']).toContain(s.sessionId);
    for (const [where, text] of Object.entries(outputs)) {
      expect(text.includes(secret), `${where} shows the secret`).toBe(false);
      expect(text.includes(defaultSecret), `${where} shows the --env default`).toBe(false);
    }

    // describe is the one place a service's env is shown, on purpose.
    const described = await runCli(['--json', 'describe', 'holder'], daemon.env);
    expect(described.stdout).toContain(secret);
  });
});
