// Whether an argv and environment fit in what execve(2) takes, checked before anything forks: a
// pipe session's spawn reports E2BIG itself, but node-pty forks first and its child, unable to
// exec, just exits 1 (a PTY session with a 1 MiB argument "exited 1" without a word). Linux only
// (elsewhere exec reports it): each string at most MAX_ARG_STRLEN, and all strings plus their
// pointers within a quarter of the stack limit (at least 128 KiB, at most 6 MiB), as
// fs/exec.c counts them.
import * as fs from 'node:fs';
import { ResourceExhaustedError } from '../wire/errors';

/** Longest single argument or "KEY=VALUE" string, its NUL included (32 pages). */
export const MAX_ARG_STRLEN = 128 * 1024;
const MIN_ARG_SPACE = 128 * 1024;
const MAX_ARG_SPACE = 6 * 1024 * 1024;
const POINTER_BYTES = 8;

/** The soft RLIMIT_STACK in bytes (Infinity when unlimited), null when unknown. */
function stackLimit(): number | null {
  try {
    const m = /^Max stack size\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/** Bytes execve(2) allows for argv + envp strings and pointers, as the kernel computes it. */
export function argSpace(): number | null {
  const stack = stackLimit();
  if (stack === null) return null;
  return Math.max(MIN_ARG_SPACE, Math.min(stack / 4, MAX_ARG_SPACE));
}

/**
 * Throws RESOURCE_EXHAUSTED (E2BIG) naming what is too long when argv + env would not fit in an
 * exec of `file` (the resolved program: the kernel copies its path onto the stack too).
 */
export function checkExecSize(file: string, argv: readonly string[], env: Readonly<Record<string, string>>): void {
  if (process.platform !== 'linux') return;
  const program = argv[0] ?? file;
  const shown = JSON.stringify(program.length > 80 ? `${program.slice(0, 80)}...` : program);
  let total = Buffer.byteLength(file) + 1;
  let count = 0;
  const add = (what: string, bytes: number) => {
    if (bytes > MAX_ARG_STRLEN) {
      throw new ResourceExhaustedError(`cannot start ${shown}: E2BIG: ${what} is ${bytes} bytes, at most ${MAX_ARG_STRLEN} per string (MAX_ARG_STRLEN)`);
    }
    total += bytes;
    count++;
  };
  argv.forEach((arg, i) => add(`argv[${i}]`, Buffer.byteLength(arg) + 1));
  for (const [key, value] of Object.entries(env)) add(`env ${JSON.stringify(key.slice(0, 80))}`, Buffer.byteLength(key) + Buffer.byteLength(value) + 2);
  const limit = argSpace();
  if (limit === null) return;
  const needed = total + count * POINTER_BYTES;
  if (needed > limit) {
    throw new ResourceExhaustedError(`cannot start ${shown}: E2BIG: the argument list and environment take ${needed} bytes (${argv.length} arguments, ${count - argv.length} environment entries), at most ${limit} (a quarter of the stack limit, ulimit -s)`);
  }
}
