// Global setup/teardown: the suite must leave no daemon and no child behind. Teardown lists
// processes that carry this run's RUNPM_TEST_RUN mark (every daemon a test starts or the client
// auto-starts inherits it), or that run this checkout's runpmd (bin/runpmd or the compiled dist
// entry) with an environment it cannot read, kills them, and fails the run if there were any.
// A daemon of this checkout someone runs beside the tests has no mark and is left alone.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DAEMON_ENTRIES = [path.join(ROOT, 'bin', 'runpmd'), path.join(ROOT, 'dist', 'src', 'bin', 'runpmd.js')];

export type LeftoverKind = 'autostarted daemon' | 'daemon' | 'child of the run';

export interface Leftover {
  pid: number;
  cmd: string;
  kind: LeftoverKind;
}

export interface LeftoverOptions {
  /** The RUNPM_TEST_RUN value that marks this run's processes (default: this run's). */
  mark?: string;
  /** Pids never reported (the runner itself). */
  exclude?: number[];
}

function statFields(pid: number): { ppid: number; sid: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), sid: Number(rest[3]) };
  } catch {
    return null;
  }
}

/** Processes of this checkout's test run still alive: our daemons and anything with the run mark. */
export function leftovers(opts: LeftoverOptions = {}): Leftover[] {
  const mark = `RUNPM_TEST_RUN=${opts.mark ?? process.env.RUNPM_TEST_RUN ?? process.pid}`;
  const exclude = new Set([process.pid, ...(opts.exclude ?? [])]);
  const out: Leftover[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    let cmd: string;
    let environ = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      try {
        environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        // Not readable: judge by the command line.
      }
    } catch {
      continue;
    }
    // The test runner's own workers carry the mark too; they are vitest's to stop.
    if (!cmd || cmd.includes('node_modules/tinypool') || cmd.includes('node_modules/vitest')) continue;
    const isOurDaemon = DAEMON_ENTRIES.some((entryPath) => cmd.includes(entryPath));
    const fromTest = environ.split('\0').some((kv) => kv === mark);
    // A daemon of this checkout that is not the run's (someone using runpm beside the tests) is
    // left alone: only one without a readable environment is judged by its command line.
    if (!fromTest && !(isOurDaemon && environ === '')) continue;
    // The client auto-starts runpmd detached: it leads its own session (setsid).
    const stat = statFields(pid);
    const kind: LeftoverKind = !isOurDaemon ? 'child of the run' : stat && stat.sid === pid ? 'autostarted daemon' : 'daemon';
    out.push({ pid, cmd, kind });
  }
  return out;
}

export function setup(): void {
  process.env.RUNPM_TEST_RUN = String(process.pid);
}

export function teardown(): void {
  const left = leftovers({ mark: String(process.pid) });
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (left.length > 0) {
    throw new Error(`processes outlived the test suite:\n${left.map((p) => `  ${p.pid} (${p.kind}) ${p.cmd}`).join('\n')}`);
  }
}
