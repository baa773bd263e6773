// The FIFOs between a service's runs and the daemon's log writers: <stateDir>/pipes/<id>-out.fifo
// and -err.fifo, made once per service and removed when it is deleted. A run gets each opened
// read-write as its stdout/stderr: it is a reader of its own pipe too, so it never gets SIGPIPE,
// even while no daemon runs; it only blocks once the pipe is full (64 KiB), and the next daemon,
// opening the same path, reads what it wrote meanwhile. The daemon's end is opened read-write and
// non-blocking too, so it never sees end-of-file between runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ensurePrivateDir } from '../scope/paths';

export interface LogFifos {
  out: string;
  err: string;
}

/** The FIFO paths of service `id` under the scope's state directory. */
export function logFifosOf(stateDir: string, id: number): LogFifos {
  const dir = path.join(stateDir, 'pipes');
  return { out: path.join(dir, `${id}-out.fifo`), err: path.join(dir, `${id}-err.fifo`) };
}

function isOurFifo(file: string): boolean | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return null;
  }
  return st.isFIFO() && (typeof process.getuid !== 'function' || st.uid === process.getuid());
}

/** Spare FIFOs made per mkfifo run: one fork per this many new services (an ecosystem of 100 makes 4). */
const SPARE_BATCH = 32;
let spares: string[] | null = null;

/** A ready FIFO in dir, made in batches (Node has no mkfifo(3); coreutils' mkfifo is on every system the daemon runs on). */
function takeSpare(dir: string): string {
  if (spares === null) {
    // Spares a previous daemon made are as good as new ones.
    spares = fs.readdirSync(dir).filter((f) => /^spare-[0-9a-f]+\.fifo$/.test(f)).map((f) => path.join(dir, f)).filter((f) => isOurFifo(f));
  }
  let spare = spares.pop();
  while (spare && path.dirname(spare) !== dir) spare = spares.pop();
  if (spare) return spare;
  const made = Array.from({ length: SPARE_BATCH }, () => path.join(dir, `spare-${randomBytes(8).toString('hex')}.fifo`));
  execFileSync('mkfifo', ['-m', '600', ...made], { stdio: ['ignore', 'ignore', 'pipe'] });
  spares.push(...made);
  return spares.pop()!;
}

/** Makes the FIFOs that are missing (mode 0600, in a 0700 directory); anything else at a path is replaced. */
export function ensureLogFifos(fifos: LogFifos): void {
  const dir = path.dirname(fifos.out);
  ensurePrivateDir(dir);
  for (const file of [fifos.out, fifos.err]) {
    const ours = isOurFifo(file);
    if (ours) continue;
    if (ours === false) fs.rmSync(file, { force: true });
    fs.renameSync(takeSpare(dir), file);
  }
}

/** Opens a FIFO read-write (never through a symlink, only one of ours); non-blocking for the daemon's end. */
export function openFifo(file: string, nonBlocking: boolean): number {
  const flags = fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | (nonBlocking ? fs.constants.O_NONBLOCK : 0);
  const fd = fs.openSync(file, flags);
  const st = fs.fstatSync(fd);
  if (!st.isFIFO() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
    fs.closeSync(fd);
    throw new Error(`${file} is not a FIFO of ours: refusing it as a service log pipe`);
  }
  return fd;
}

/** Removes a deleted service's FIFOs. */
export function removeLogFifos(fifos: LogFifos): void {
  for (const file of [fifos.out, fifos.err]) fs.rmSync(file, { force: true });
}
