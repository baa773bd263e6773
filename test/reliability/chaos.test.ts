// Daemon SIGKILL at each moment issue 21 names, CI size (one round: six kills, and six more of
// the daemons that check): during a session spawn, a spawn-daemon, a service start/restart, a ServiceSave, a log
// rotation and with an attached stream, all while the others go on. After each: no process of the
// scope the next daemon does not know, integrity_check ok, every acknowledged thing present once.
// The soak runs the same at scale (test/soak/chaos.soak.test.ts).
import { describe, expect, it } from 'vitest';
import { CHAOS_MOMENTS, describeChaos, runChaos } from './chaos-run';

describe('chaos: daemon SIGKILL at every moment', () => {
  it('kills during spawn, spawn-daemon, service start, save, rotation and an attached stream lose nothing and leave nothing unknown', async () => {
    const f = await runChaos({ rounds: 1 });
    console.log(describeChaos(f));
    expect(f.rounds).toBe(1);
    for (const m of CHAOS_MOMENTS) expect(f.kills[m], m).toBe(1);
    expect(f.unknownProcesses).toEqual([]);
    expect(f.integrityChecks).toEqual(CHAOS_MOMENTS.map(() => 'ok'));
    expect(f.sessionsAcked).toBeGreaterThan(5);
    expect(f.sessionsNotReportedOnce).toEqual([]);
    expect(f.detachedAcked).toBeGreaterThan(0);
    expect(f.detachedErrors).toEqual([]);
    expect(f.serviceListErrors).toEqual([]);
    expect(f.maxRunsOfOneService).toBe(1);
    expect(f.savesAcked).toBeGreaterThan(0);
    expect(f.snapshotChecks).toBe(1);
    expect(f.snapshotErrors).toEqual([]);
    expect(f.logErrors).toEqual([]);
    expect(f.logLinesVerified).toBeGreaterThan(50);
    expect(f.numbersPidKept).toBe(true);
    expect(f.attachedStreamsHung).toBe(0);
    // The flood's fresh client: counted here (on the shared, loaded CI box it has missed its 10 s
    // once in a few runs), asserted in the soak; what must hold after the kill is asserted above.
    expect(f.floodsServed + f.floodErrors.length).toBe(f.rounds);
    expect(f.attachedStreamsEnded).toBeGreaterThan(0);
  }, 180_000); // seven daemon lives and seven checks: ~30 s alone, several times that on a loaded machine
});
