// The global teardown's leak check: leftovers() must find a marked child of the run and a daemon
// the client auto-started (detached, its own session), and forget them once they are gone.
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect';
import { isAlive, makeTempHome, waitFor, RUNPMD } from '../helpers/daemon';
import { leftovers } from '../helpers/global-setup';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('leftover detection', () => {
  it('reports a child carrying the run mark until it is gone', async () => {
    const mark = `unit-${process.pid}-${Date.now()}`;
    const child = spawn('sleep', ['30'], { env: { ...process.env, RUNPM_TEST_RUN: mark }, stdio: 'ignore' });
    cleanups.push(() => void child.kill('SIGKILL'));
    await new Promise((r) => child.once('spawn', r));
    // exec() of sleep replaces node's spawn helper: wait until /proc shows the mark.
    const found = await waitFor(() => leftovers({ mark }).find((p) => p.pid === child.pid), 'the marked child to be listed');
    expect(found.kind).toBe('child of the run');
    expect(found.cmd).toContain('sleep 30');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited; // reaped: no zombie left in /proc
    expect(leftovers({ mark }).some((p) => p.pid === child.pid)).toBe(false);
  });

  it('reports a daemon the client auto-started, as such, until it stops', async () => {
    const home = makeTempHome();
    cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
    const client = await connect({ scope: 'leak', home });
    cleanups.push(() => client.close());
    const status = await client.status();
    const lockPid = Number(fs.readFileSync(`${status.socketPath}.pid`, 'utf8'));
    cleanups.push(() => {
      if (isAlive(lockPid)) process.kill(lockPid, 'SIGKILL');
    });
    const found = leftovers().find((p) => p.pid === lockPid);
    expect(found, `autostarted runpmd pid ${lockPid} not reported`).toBeDefined();
    expect(found!.kind).toBe('autostarted daemon');
    await client.shutdown({ graceful: false });
    await waitFor(() => !isAlive(lockPid), 'the autostarted daemon to stop');
    expect(leftovers().some((p) => p.pid === lockPid)).toBe(false);
  });

  it("leaves alone a daemon of this checkout that is not the run's (someone using runpm beside the tests)", async () => {
    const home = makeTempHome();
    cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
    const { RUNPM_TEST_RUN: _mark, ...unmarked } = process.env;
    const daemon = spawn(process.execPath, [RUNPMD, '--scope', 'beside', '--home', home], { env: unmarked, stdio: 'ignore' });
    const exited = new Promise((r) => daemon.once('exit', r));
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await exited;
    });
    await waitFor(() => fs.existsSync(`/proc/${daemon.pid}/environ`) && fs.readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8').includes('beside'), 'the daemon to run');
    expect(leftovers().some((p) => p.pid === daemon.pid)).toBe(false);
  });
});
