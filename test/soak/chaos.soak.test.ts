// Soak: the chaos runner at scale, 10 rounds (RUNPM_SOAK_CHAOS_ROUNDS to change): 60 daemon
// SIGKILLs at the six moments of issue 21 (and 60 of the checking daemons) on one home. After each,
// no unknown process, integrity_check ok, every acknowledged thing present once.
import { describe, expect, it } from 'vitest';
import { CHAOS_MOMENTS, describeChaos, runChaos } from '../reliability/chaos-run';
import { isReducedSize, soakSize, writeSoakPart } from './soak-figures';

describe('soak: chaos', () => {
  it('survives SIGKILLs at every moment, round after round', async () => {
    const rounds = soakSize('RUNPM_SOAK_CHAOS_ROUNDS', 10);
    const f = await runChaos({ rounds });
    console.log(describeChaos(f));
    writeSoakPart('chaos', { ...f, reducedSize: isReducedSize('RUNPM_SOAK_CHAOS_ROUNDS') });
    expect(f.rounds).toBe(rounds);
    for (const m of CHAOS_MOMENTS) expect(f.kills[m], m).toBe(rounds);
    expect(f.unknownProcesses).toEqual([]);
    expect(f.integrityChecks.every((c) => c === 'ok')).toBe(true);
    expect(f.sessionsNotReportedOnce).toEqual([]);
    expect(f.detachedAcked).toBeGreaterThan(0);
    expect(f.detachedErrors).toEqual([]);
    expect(f.serviceListErrors).toEqual([]);
    expect(f.maxRunsOfOneService).toBe(1);
    expect(f.snapshotErrors).toEqual([]);
    expect(f.logErrors).toEqual([]);
    expect(f.numbersPidKept).toBe(true);
    expect(f.attachedStreamsHung).toBe(0);
    expect(f.floodErrors).toEqual([]);
    expect(f.floodsServed).toBe(f.rounds);
  });
});
