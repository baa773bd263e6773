// Test-only crash injection (runpmd --crash-at POINT[:N]): the daemon SIGKILLs itself the Nth time
// (default 1st) it reaches the named point, so tests kill it deterministically between two steps
// that a crash must not separate (a fork and its record, a temp file and its rename...) instead of
// racing a timer. Unarmed, crashPoint() is one comparison.
export const CRASH_POINTS = [
  /** A session child is forked, its leader not yet written to session_children. */
  'session-spawned',
  /** A SPAWN_DAEMON child is forked, not yet written to the registry. */
  'detached-spawned',
  /** A service run is forked, its pid not yet written to the services table. */
  'service-spawned',
  /** ServiceSave wrote and synced its temp file, not yet renamed over services.dump.json. */
  'save-temp-written',
  /** A service log was renamed to .1, the new live file not yet opened. */
  'log-rotated',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

let armed: { point: CrashPoint; remaining: number } | null = null;

/** Parses and arms "POINT" or "POINT:N"; throws naming the valid points. */
export function armCrashPoint(spec: string): void {
  const [name, count = '1'] = spec.split(':');
  if (!(CRASH_POINTS as readonly string[]).includes(name)) {
    throw new Error(`--crash-at: unknown point ${JSON.stringify(name)} (one of ${CRASH_POINTS.join(', ')})`);
  }
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--crash-at: count must be a positive integer, got ${JSON.stringify(count)}`);
  armed = { point: name as CrashPoint, remaining: n };
}

/** Called at each named point: SIGKILLs this process when the armed point is reached the Nth time. */
export function crashPoint(point: CrashPoint): void {
  if (armed?.point !== point || --armed.remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
