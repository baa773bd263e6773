// Soak: fd exhaustion at scale (RUNPM_SOAK_FD_REGISTERED / RUNPM_SOAK_FD_ROUNDS to change): 200
// registered processes and 40 reaper rounds with /proc unreadable under prlimit; nothing reaped or
// forgotten, no log line lost, no unknown process.
import { describe, expect, it } from 'vitest';
import { describeFdLimit, runFdLimit } from '../reliability/fd-limit-run';
import { isReducedSize, soakSize, writeSoakPart } from './soak-figures';

describe('soak: fd exhaustion', () => {
  it('keeps every row, the adopted service and every log line through EMFILE', async () => {
    const registered = soakSize('RUNPM_SOAK_FD_REGISTERED', 200);
    const f = await runFdLimit({ registered, squeezedRounds: soakSize('RUNPM_SOAK_FD_ROUNDS', 40) });
    console.log(describeFdLimit(f));
    writeSoakPart('fdlimit', { ...f, reducedSize: isReducedSize('RUNPM_SOAK_FD_REGISTERED', 'RUNPM_SOAK_FD_ROUNDS') });
    expect(f.spawnRefusal).toMatch(/^STATUS_CODE_RESOURCE_EXHAUSTED: /);
    expect(f.rowsListedAlive).toBe(registered);
    expect(f.rowsReaped).toBe(0);
    expect(f.servicePidKept).toBe(true);
    expect(f.sessionsListedOnce).toBe(f.sessionsAcked);
    expect(f.logErrors).toEqual([]);
    expect(f.maxRunsOfOneService).toBe(1);
    expect(f.unknownProcesses).toEqual([]);
    expect(f.integrity).toBe('ok');
  });
});
