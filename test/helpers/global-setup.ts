// Global setup/teardown: the suite must leave no daemon and no child behind. Teardown lists
// processes whose command line points at
// this checkout's bin/runpmd or carry this run's RUNPM_TEST_RUN mark, kills them, and fails the run if there were any.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** Marks every process this run starts (inherited through env), so parallel runs stay apart. */
const RUN_MARK = `RUNPM_TEST_RUN=${process.pid}`;

function leftovers(): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
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
    const isOurDaemon = cmd.includes(path.join(ROOT, 'bin', 'runpmd'));
    const fromTest = environ.split('\0').some((kv) => kv === RUN_MARK);
    if (isOurDaemon || fromTest) out.push({ pid, cmd });
  }
  return out;
}

export function setup(): void {
  process.env.RUNPM_TEST_RUN = String(process.pid);
}

export function teardown(): void {
  const left = leftovers();
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  if (left.length > 0) {
    throw new Error(`processes outlived the test suite:\n${left.map((p) => `  ${p.pid} ${p.cmd}`).join('\n')}`);
  }
}
