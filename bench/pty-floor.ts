// The floor of the PTY throughput figures: a reader of the kernel PTY that loses nothing and starts
// its clock where the PTY-session figure starts its own (the child in raw mode, waiting for "go").
// Preferred: bench/native/pty-reader.c, built with cc into the run's work directory; without a
// compiler, util-linux `script -q` read through a pipe. Raw node-pty is not a floor: it loses the
// tail of a fast child's output (docs/notes/node-pty-tail-loss.md) and starts its clock at spawn.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './bench-daemon';

/** The child every PTY throughput path runs: raw mode, then "R", then waits for a line, then cat. */
export const PTY_CAT_SCRIPT = 'stty raw -echo; printf R; read go; exec cat "$0"';

/** One floor run: the bytes it read after "go" and the milliseconds from "go" to the child's end. */
export interface FloorRun {
  bytes: number;
  ms: number;
}

export interface PtyFloor {
  /** What the row's baseline says it is. */
  label: string;
  catRun(file: string): Promise<FloorRun>;
}

const C_SOURCE = path.join(REPO_ROOT, 'bench', 'native', 'pty-reader.c');

/** cc is there and builds the reader (it needs forkpty: -lutil on Linux, libc on macOS). */
function buildCReader(workDir: string): string | null {
  if (spawnSync('cc', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const out = path.join(workDir, 'pty-reader');
  const libs = process.platform === 'linux' ? ['-lutil'] : [];
  const r = spawnSync('cc', ['-O2', '-o', out, C_SOURCE, ...libs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc could not build ${C_SOURCE}: ${r.stderr.trim()}`);
  return out;
}

function cReaderFloor(binary: string): PtyFloor {
  return {
    label: 'C reader of the kernel PTY (forkpty, built with cc)',
    async catRun(file) {
      const r = JSON.parse(execFileSync(binary, [PTY_CAT_SCRIPT, file], { encoding: 'utf8' })) as { bytes: number; ms: number; status: number };
      if (r.status !== 0) throw new Error(`pty-reader: the child exited with ${r.status}`);
      return { bytes: r.bytes, ms: r.ms };
    },
  };
}

/** util-linux script(1): copies the PTY to its stdout pipe and our stdin to the PTY. */
function scriptFloor(): PtyFloor | null {
  const version = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !/util-linux/.test(version.stdout)) return null;
  return {
    label: '`script -q` (util-linux) reading the kernel PTY, through a pipe',
    catRun: (file) => new Promise((resolve, reject) => {
      const command = `sh -c '${PTY_CAT_SCRIPT}' '${file.replace(/'/g, `'\\''`)}'`;
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let started: bigint | null = null;
      let bytes = 0;
      child.stdout!.on('data', (d: Buffer) => {
        if (started !== null) {
          bytes += d.length;
          return;
        }
        const ready = d.indexOf(0x52);
        if (ready === -1) return;
        started = process.hrtime.bigint();
        bytes += d.length - ready - 1;
        child.stdin!.write('go\n');
      });
      child.once('error', reject);
      child.once('close', (code) => {
        if (code !== 0 || started === null) reject(new Error(`script -q exited with ${code} (ready: ${started !== null})`));
        else resolve({ bytes, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      });
    }),
  };
}

/** The best floor this machine has (C reader, else script -q); null with neither. */
export function preparePtyFloor(workDir: string): PtyFloor | null {
  const binary = buildCReader(workDir);
  return binary ? cReaderFloor(binary) : scriptFloor();
}
