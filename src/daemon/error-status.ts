// Which status an error a handler threw answers with, when it is not a DaemonError already: a
// path refused for safety is INVALID_ARGUMENT, running out of something the OS or the daemon
// rations (argv space, file descriptors, memory, processes, ptys) is RESOURCE_EXHAUSTED naming
// the resource; only what is left is INTERNAL. Disk full is handled by the caller (the reserve).
import { StatusCode } from '../wire/proto';
import { UnsafePathError } from '../files/trusted-path';
import { describeFdUse } from './fd-budget';

export interface MappedError {
  code: StatusCode;
  message: string;
}

/** errno codes that mean "out of a resource", with what to tell the user. */
const EXHAUSTED: Record<string, string> = {
  E2BIG: 'the argument list and environment are too long for the OS (E2BIG: together they must fit in ARG_MAX, about 2 MiB on Linux, each string under 128 KiB)',
  EMFILE: 'the daemon has too many open files (EMFILE)',
  ENFILE: 'the system has too many open files (ENFILE)',
  ENOMEM: 'out of memory (ENOMEM)',
  EAGAIN: 'out of processes or memory for a new process (EAGAIN)',
};

/** The status for err, or null when it is an unexpected failure (INTERNAL, logged with its stack). */
export function mapHandlerError(err: unknown, what: string): MappedError | null {
  if (err instanceof UnsafePathError) return { code: StatusCode.STATUS_CODE_INVALID_ARGUMENT, message: err.message };
  const e = err as NodeJS.ErrnoException | null;
  const message = e instanceof Error ? e.message : String(err);
  const errno = typeof e?.code === 'string' ? e.code : errnoInMessage(message);
  // EAGAIN is "out of processes" only from fork/spawn; elsewhere it is a retryable write.
  const exhausted = errno !== null && EXHAUSTED[errno] !== undefined && (errno !== 'EAGAIN' || /^spawn/.test(e?.syscall ?? ''));
  if (exhausted && errno) {
    const fds = errno === 'EMFILE' || errno === 'ENFILE' ? `; ${describeFdUse()}` : '';
    return { code: StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, message: `${what} failed: ${EXHAUSTED[errno]}${fds} (${message})` };
  }
  // node-pty reports a failed forkpty(3) without errno: no pty or no fd was left.
  if (/forkpty\(3\) failed|openpty\(3\) failed|posix_openpt/i.test(message)) {
    return {
      code: StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED,
      message: `${what} failed: no pseudo-terminal could be allocated (out of ptys or file descriptors; ${describeFdUse()}) (${message})`,
    };
  }
  return null;
}

function errnoInMessage(message: string): string | null {
  const m = /\b(E2BIG|EMFILE|ENFILE|ENOMEM)\b/.exec(message);
  return m ? m[1] : null;
}
