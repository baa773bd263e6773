// Names for the tee enums of the wire contract, shared by the daemon handler, the client and the
// CLI (no I/O; safe on the CLI path).
import { pb } from '../wire/proto';

export type TeeSessionKindName = 'pty' | 'pipe';
export type TeeStreamName = 'pty-output' | 'stdout' | 'stderr' | 'stdin';

export const SESSION_KINDS: Record<TeeSessionKindName, number> = {
  pty: pb.TeeSessionKind.TEE_SESSION_KIND_PTY,
  pipe: pb.TeeSessionKind.TEE_SESSION_KIND_PIPE,
};

export const STREAMS: Record<TeeStreamName, number> = {
  'pty-output': pb.TeeStreamKind.TEE_STREAM_KIND_PTY_OUTPUT,
  stdout: pb.TeeStreamKind.TEE_STREAM_KIND_STDOUT,
  stderr: pb.TeeStreamKind.TEE_STREAM_KIND_STDERR,
  stdin: pb.TeeStreamKind.TEE_STREAM_KIND_STDIN,
};

/** Streams a tee may copy, per session kind (STDIN = the bytes actually written to the child). */
export const STREAMS_OF_KIND: Record<TeeSessionKindName, readonly TeeStreamName[]> = {
  pty: ['pty-output', 'stdin'],
  pipe: ['stdout', 'stderr', 'stdin'],
};

/** The name of a session-kind enum value, or null when it is not PTY or PIPE. */
export function sessionKindName(value: number): TeeSessionKindName | null {
  for (const [name, v] of Object.entries(SESSION_KINDS)) if (v === value) return name as TeeSessionKindName;
  return null;
}

/** The name of a stream enum value, or null when it is none of the four. */
export function streamName(value: number): TeeStreamName | null {
  for (const [name, v] of Object.entries(STREAMS)) if (v === value) return name as TeeStreamName;
  return null;
}

/** Wire enum value → its proto name for messages ("TEE_STREAM_KIND_STDOUT" or the number). */
export function enumLabel(e: Record<string | number, string | number>, value: number): string {
  const name = e[value];
  return typeof name === 'string' ? `${name} (${value})` : String(value);
}
