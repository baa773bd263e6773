// `runpm output ID | head -1`: when the reader of stdout (or stderr) goes away, the CLI ends
// quietly with 141 (128 + SIGPIPE), as a shell tool killed by SIGPIPE does, instead of an
// unhandled EPIPE stack. Node ignores SIGPIPE, so the write fails with EPIPE and we end here.
import * as os from 'node:os';

/** The status of a process that SIGPIPE ended (what `seq 1 1000000 | head -1` leaves in PIPESTATUS). */
export const BROKEN_PIPE_EXIT_CODE = 128 + os.constants.signals.SIGPIPE;

let installed = false;

/** Makes a broken stdout/stderr end the process quietly with BROKEN_PIPE_EXIT_CODE. Idempotent. */
export function endQuietlyOnBrokenPipe(): void {
  if (installed) return;
  installed = true;
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      // Nothing more can be said where nobody reads; the daemon sees the connection close and the
      // session keeps running (a follow is a reader, not the owner).
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(BROKEN_PIPE_EXIT_CODE);
      throw err;
    });
  }
}
