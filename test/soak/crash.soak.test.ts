// Soak: 20 daemon SIGKILLs (RUNPM_SOAK_CRASH_CYCLES to change) during registry writes and service
// restarts; after each, the database passes integrity_check, the steady service is re-adopted with
// its pid, no service runs twice and no registry row is duplicated.
import { describe, expect, it } from 'vitest';
import { describeCrash, runCrashCycles } from '../reliability/crash-run';
import { soakSize, writeSoakPart } from './soak-figures';

describe('soak: daemon crashes', () => {
  it('survives 20 SIGKILLs during registry writes and service restarts', async () => {
    const cycles = soakSize('RUNPM_SOAK_CRASH_CYCLES', 20);
    const f = await runCrashCycles({ cycles, writers: 8, writesBeforeKill: 500 });
    console.log(describeCrash(f));
    writeSoakPart('crash', f);
    expect(f.cycles).toBe(cycles);
    expect(f.integrityChecks.every((c) => c === 'ok')).toBe(true);
    expect(f.steadyPidKept).toBe(true);
    expect(f.maxSteadyRuns).toBe(1);
    expect(f.maxLooperRuns).toBeLessThanOrEqual(1);
    expect(f.duplicateRows).toBe(0);
  });
});
