// Unit: retryAfterEnospc() retries a write exactly once, and only when a disk-full error made it
// release an armed reserve; anything else is thrown unchanged.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { retryAfterEnospc } from '../../src/daemon/emergency-reserve';
import type { DaemonState } from '../../src/daemon/state';
import { makeTempHome } from '../helpers/daemon';

let dir: string | null = null;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function fakeState(reserve: 'armed' | 'released' | 'disabled'): { state: DaemonState; logged: string[] } {
  dir = makeTempHome('rp-enospc-');
  fs.writeFileSync(path.join(dir, 'emergency.reserve'), Buffer.alloc(4096));
  const logged: string[] = [];
  const log = { info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
  const state = { config: { reserveBytes: 4096, paths: { stateDir: dir } }, emergencyReserve: reserve, log } as unknown as DaemonState;
  return { state, logged };
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('retryAfterEnospc', () => {
  it('releases an armed reserve on ENOSPC and retries once', () => {
    const { state, logged } = fakeState('armed');
    let calls = 0;
    const result = retryAfterEnospc(state, 'ServiceSave', () => {
      if (++calls === 1) throw enospc();
      return 'written';
    });
    expect(result).toBe('written');
    expect(calls).toBe(2);
    expect(state.emergencyReserve).toBe('released');
    expect(fs.existsSync(path.join(dir!, 'emergency.reserve'))).toBe(false);
    expect(logged.join('\n')).toMatch(/released \(4096 bytes\) after ServiceSave hit a full disk \(ENOSPC[\s\S]*retrying ServiceSave/);
  });

  it('throws the second ENOSPC (one retry only) and SQLITE_FULL counts as disk full', () => {
    const { state } = fakeState('armed');
    let calls = 0;
    const full = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(() => retryAfterEnospc(state, 'REGISTER pid 1', () => {
      calls++;
      throw full();
    })).toThrow(/database or disk is full/);
    expect(calls).toBe(2);
  });

  it('does not retry when the reserve was not armed, or for other errors', () => {
    for (const reserve of ['released', 'disabled'] as const) {
      const { state } = fakeState(reserve);
      let calls = 0;
      expect(() => retryAfterEnospc(state, 'x', () => {
        calls++;
        throw enospc();
      })).toThrow(/ENOSPC/);
      expect(calls).toBe(1);
      expect(state.emergencyReserve).toBe(reserve);
      fs.rmSync(dir!, { recursive: true, force: true });
    }
    const { state } = fakeState('armed');
    let calls = 0;
    expect(() => retryAfterEnospc(state, 'x', () => {
      calls++;
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    })).toThrow(/EACCES/);
    expect(calls).toBe(1);
    expect(state.emergencyReserve).toBe('armed');
  });
});
