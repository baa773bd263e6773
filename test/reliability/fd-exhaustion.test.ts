// fd exhaustion is not death, CI size (the soak runs it at scale: test/soak/fd-limit.soak.test.ts):
// a daemon held to `prlimit --nofile=64` with a re-adopted service, a numbered log writer and
// registered processes refuses new sessions and clients with RESOURCE_EXHAUSTED; squeezed further
// so every /proc read fails with EMFILE, it reaps nothing and forgets no adopted run through several
// reaper rounds. Afterwards every row is listed alive, the service runs once with its pid, each
// acknowledged session is listed once, the log lost no line, and no process of the scope is unknown.
import { describe, expect, it } from 'vitest';
import { describeFdLimit, runFdLimit } from './fd-limit-run';

describe('fd exhaustion', () => {
  it('under prlimit --nofile=64 and then EMFILE everywhere: clear refusals, nothing reaped or forgotten, no line lost', async () => {
    const f = await runFdLimit({ registered: 3, squeezedRounds: 4 });
    console.log(describeFdLimit(f));
    expect(f.spawnRefusal).toMatch(/^STATUS_CODE_RESOURCE_EXHAUSTED: REQUEST_TYPE_SPAWN_PIPE_SESSION refused: too many open files \(EMFILE\): \d+ of 64 file descriptors open/);
    expect(f.sessionsAcked).toBeGreaterThan(0);
    expect(f.connectionRefusal).toMatch(/^STATUS_CODE_RESOURCE_EXHAUSTED: too many open files \(EMFILE\)/);
    expect(f.squeezedRounds).toBeGreaterThanOrEqual(4);
    expect(f.rowsListedAlive).toBe(3);
    expect(f.rowsReaped).toBe(0);
    expect(f.servicePidKept).toBe(true);
    expect(f.serviceRestarts).toBe(0);
    expect(f.sessionsListedOnce).toBe(f.sessionsAcked);
    expect(f.logErrors).toEqual([]);
    expect(f.logLinesVerified).toBeGreaterThan(20);
    expect(f.maxRunsOfOneService).toBe(1);
    expect(f.unknownProcesses).toEqual([]);
    expect(f.integrity).toBe('ok');
  });
});
