// Reads a child's stdout/stderr pipe into one daemon-wide buffer instead of a fresh allocation per
// read. Node's default reading allocates a 64 KiB ArrayBuffer for every read: page faults on each
// one and a garbage collection every few dozen MiB (half the CPU a reader spends on a fast `cat`).
// net.Socket's documented `onread` option reads into a caller's buffer; the child's pipe handle is
// rewrapped in such a socket right after spawn. The buffer is shared by every pipe of the daemon: the
// callback runs synchronously and copies what it keeps (ring, tees), so no read can overwrite bytes
// still in use. Lives as long as the daemon; nothing here is per session but the socket.
import * as net from 'node:net';
import type { Readable } from 'node:stream';

/** Bytes one read may return: up to four 64 KiB socket segments, so a fast producer costs fewer callbacks. */
export const SHARED_READ_BYTES = 256 * 1024;

let sharedBuffer: Buffer | null = null;

/** The internal pipe handle child_process wraps (only what this file checks for). */
interface PipeHandle {
  useUserBuffer?: unknown;
  readStart?: unknown;
}

/**
 * Starts reading `pipe` (a child's stdout/stderr from spawn(), before the event loop ran): each read's
 * bytes (at most maxReadBytes) go to onChunk as a view that is valid only during the call. Returns the stream to listen on
 * for 'end'/'error' and to pause()/resume(). Falls back to plain 'data' events (a fresh Buffer per
 * read, also transient to the caller) when the pipe is not a handle-backed socket as expected.
 */
export function readPipe(pipe: Readable, onChunk: (chunk: Buffer) => void, maxReadBytes = SHARED_READ_BYTES): Readable {
  const handle = (pipe as unknown as { _handle?: PipeHandle | null })._handle;
  const usable = pipe instanceof net.Socket && handle && typeof handle.useUserBuffer === 'function'
    && typeof handle.readStart === 'function' && pipe.readableLength === 0 && !pipe.readableEnded;
  if (!usable) {
    pipe.on('data', onChunk);
    return pipe;
  }
  sharedBuffer ??= Buffer.allocUnsafeSlow(SHARED_READ_BYTES);
  // A read never returns more than the buffer: capped so one read cannot overrun a ring's flow slack.
  const buffer = maxReadBytes < SHARED_READ_BYTES ? sharedBuffer.subarray(0, Math.max(1, maxReadBytes)) : sharedBuffer;
  // The handle's reads now land in `buffer` and are reported to this socket (its new owner); the
  // original socket stays in child.stdio untouched (it only ever sees reads it never gets).
  const socket = new net.Socket({
    handle: handle as never,
    readable: true,
    writable: false,
    onread: { buffer, callback: (n: number) => void onChunk(buffer.subarray(0, n)) },
  } as net.SocketConstructorOpts);
  return socket;
}
