// AttachSink: where one attachment's frames go (a client's connection), as the attach pump sees it.
// The daemon implements it over a connection's socket (daemon/socket-sink.ts): sessions never touch
// sockets. Lives as long as the attachment it was given to.

export interface AttachSink {
  /**
   * Queues one complete frame (length prefix included). `onWritten` runs once the kernel took the
   * frame (ok) or the write failed or was dropped (not ok); either way its memory is free again.
   */
  write(frame: Uint8Array, onWritten?: (ok: boolean) => void): void;
  /** Bytes queued and not yet taken by the kernel. */
  readonly queuedBytes: number;
  /** Runs fn once, after everything queued was written (at once, asynchronously, when nothing is queued). */
  onceDrained(fn: () => void): void;
  /** Runs fn with writes held back, so the frames it queues leave together (one system call). */
  batch(fn: () => void): void;
  /** Flushes what was queued, then closes the connection. */
  end(): void;
  /** Runs fn once when the connection closes for any reason (at once if it already has). */
  onClose(fn: () => void): void;
  /** True once the connection is closed: writes are dropped (their onWritten gets false). */
  readonly closed: boolean;
}
