// Typed errors shared by daemon and client. Handlers throw a DaemonError; one toResponse()
// maps it to the wire. The client rethrows a non-OK response as the same class and code.
import { StatusCode } from './proto';

/** An error that maps to a wire StatusCode. */
export class DaemonError extends Error {
  constructor(readonly code: StatusCode, message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}

export class InvalidArgumentError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_INVALID_ARGUMENT, message); this.name = 'InvalidArgumentError'; }
}
export class NotFoundError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_NOT_FOUND, message); this.name = 'NotFoundError'; }
}
export class AlreadyAttachedError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_ALREADY_ATTACHED, message); this.name = 'AlreadyAttachedError'; }
}
export class UnavailableError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_UNAVAILABLE, message); this.name = 'UnavailableError'; }
}
/** The daemon or the system ran out of a resource (fds, a memory budget, argv space, disk); the message names it. */
export class ResourceExhaustedError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, message); this.name = 'ResourceExhaustedError'; }
}
export class UnimplementedError extends DaemonError {
  constructor(message: string) { super(StatusCode.STATUS_CODE_UNIMPLEMENTED, message); this.name = 'UnimplementedError'; }
}

/**
 * A spawn whose program cannot be started, reported as a shell would: the exit status a shell gives
 * (127 not found, 126 not executable) and its wording ("name: command not found"). Clients turn
 * it into a result (runpm exec exits with that status) rather than a failure of the request.
 */
export abstract class StartFailedError extends DaemonError {
  abstract readonly exitCode: 126 | 127;
  constructor(code: StatusCode, readonly program: string, message: string) {
    super(code, message);
  }
}
export class CommandNotFoundError extends StartFailedError {
  readonly exitCode = 127;
  constructor(program: string, message: string) { super(StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, program, message); this.name = 'CommandNotFoundError'; }
}
export class CommandNotExecutableError extends StartFailedError {
  readonly exitCode = 126;
  constructor(program: string, message: string) { super(StatusCode.STATUS_CODE_COMMAND_NOT_EXECUTABLE, program, message); this.name = 'CommandNotExecutableError'; }
}

/** The shell exit status a start failure stands for (127 / 126), or null for any other error. */
export function startFailureExitCode(err: unknown): 126 | 127 | null {
  if (!(err instanceof DaemonError)) return null;
  if (err.code === StatusCode.STATUS_CODE_COMMAND_NOT_FOUND) return 127;
  if (err.code === StatusCode.STATUS_CODE_COMMAND_NOT_EXECUTABLE) return 126;
  return null;
}

/** errno codes that mean the OS ran out of something for this process (fds, memory, processes, argv space). */
export function isResourceErrno(code: string | undefined): boolean {
  return code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM' || code === 'EAGAIN' || code === 'E2BIG';
}

/** Wire-level error codes (stable strings, like ws's WS_ERR_*). */
export type WireErrorCode = 'ERR_FRAME_TOO_LARGE' | 'ERR_CONNECTION_CLOSED' | 'ERR_TIMEOUT' | 'ERR_BAD_MESSAGE' | 'ERR_NOT_RESPONDING';

/** A framing or transport failure, raised by the decoder and the client. */
export class WireError extends Error {
  constructor(readonly code: WireErrorCode, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** Human name of a status code, e.g. NOT_FOUND. */
export function statusName(code: StatusCode): string {
  const name = StatusCode[code] as string | undefined;
  return name ? name.replace(/^STATUS_CODE_/, '') : `STATUS_${code}`;
}
