// The clock-tick rate of process times (sysconf(_SC_CLK_TCK), USER_HZ): start times and CPU times
// are counted in it. Read once through getconf; 100 (every mainstream Linux, and macOS) if that fails.
import { execFileSync } from 'node:child_process';

const FALLBACK_TICKS_PER_SECOND = 100;
let ticksPerSecond: number | null = null;

/** Clock ticks per second, read on first use and kept for the process's life. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : FALLBACK_TICKS_PER_SECOND;
    } catch {
      ticksPerSecond = FALLBACK_TICKS_PER_SECOND;
    }
  }
  return ticksPerSecond;
}
