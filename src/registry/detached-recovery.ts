// At daemon start, after a predecessor died without shutting down: registers the SPAWN_DAEMON
// children it forked but never wrote down (killed between the fork and the row's write). Each
// carries RUNPM_DETACHED_SCOPE=<this scope> from the fork on, and so does everything it starts:
// the top of each tagged tree (a tagged process whose parent is not tagged) that the registry does
// not hold is registered as the row SPAWN_DAEMON would have written (kind `daemon`, containment
// `detached`), and logged. Processes below a top belong to it, as they do for a row written in
// time. While the process table cannot be read (EMFILE...), nothing is concluded and it looks
// again every UNREADABLE_RETRY_MS.
import type { Logger } from '../daemon/log';
import {
  findTagged, readCmdline, readCwd, startTicksToEpochSeconds, ProcUnreadableError, type TaggedProcess,
} from '../proc/process-table';
import { DETACHED_SCOPE_ENV } from './spawn-daemon';
import type { Registry } from './registry';
import type { TrackedRow } from './registry-store';

const UNREADABLE_RETRY_MS = 1000;
const ORIGINATOR_KEY = 'RUNNING_PROCESS_ORIGINATOR';

/** The command SPAWN_DAEMON ran (`/bin/sh -c COMMAND`), or the argv as it is now (the shell exec'd). */
function commandOf(pid: number): string {
  const argv = readCmdline(pid);
  if (argv.length >= 3 && argv[1] === '-c' && /(^|\/)sh$/.test(argv[0])) return argv[2];
  return argv.join(' ');
}

/** Tagged processes whose parent is not tagged: what SPAWN_DAEMON forked (or what outlived it). */
function topsOf(tagged: TaggedProcess[]): TaggedProcess[] {
  const pids = new Set(tagged.map((t) => t.stat.pid));
  return tagged.filter((t) => !pids.has(t.stat.ppid));
}

/**
 * Registers what the dead daemon spawned detached and did not record; resolves with the rows
 * written (none when no predecessor crashed). Children of this daemon are its own, never adopted.
 */
export async function registerUnrecordedDetached(
  registry: Registry, opts: { scopeHash: string; crashedPid: number | null; log: Logger },
): Promise<TrackedRow[]> {
  if (opts.crashedPid === null) return [];
  let tagged: TaggedProcess[];
  for (let attempt = 0; ; attempt++) {
    try {
      tagged = findTagged(`${DETACHED_SCOPE_ENV}=${opts.scopeHash}`, [ORIGINATOR_KEY]);
      break;
    } catch (err) {
      if (!(err instanceof ProcUnreadableError)) throw err;
      if (attempt === 0) opts.log.warn(`crash recovery: ${err.message}; detached processes of runpmd pid ${opts.crashedPid} are looked for again every ${UNREADABLE_RETRY_MS} ms`);
      await new Promise((r) => setTimeout(r, UNREADABLE_RETRY_MS));
    }
  }
  const written: TrackedRow[] = [];
  for (const { stat, values } of topsOf(tagged)) {
    if (stat.ppid === process.pid) continue;
    if (registry.store.byPid(stat.pid).some((r) => r.startTicks === stat.startTicks)) continue;
    const now = Date.now() / 1000;
    const row: TrackedRow = {
      pid: stat.pid, startTicks: stat.startTicks, createdAt: startTicksToEpochSeconds(stat.startTicks), kind: 'daemon',
      command: commandOf(stat.pid), cwd: readCwd(stat.pid) ?? '', originator: values[ORIGINATOR_KEY] ?? '', containment: 'detached',
      registeredAt: now, lastValidatedAt: now,
    };
    registry.store.upsert(row);
    written.push(row);
    opts.log.warn(`crash recovery: detached process pid ${row.pid} (${JSON.stringify(row.command)}) was spawned by runpmd pid ${opts.crashedPid}, which died before registering it; registered now`);
  }
  return written;
}
