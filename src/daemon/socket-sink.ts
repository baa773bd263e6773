// SocketSink: an attachment's AttachSink over the connection a streaming request took over. Frames
// go straight to the socket; "written" means the kernel took them (socket.write's callback). Lives
// as long as the attachment; the connection owns the socket.
import type { AttachSink } from '../sessions/attach-sink';
import type { StreamChannel } from './dispatch';

export class SocketSink implements AttachSink {
  constructor(private readonly channel: StreamChannel) {}

  get closed(): boolean {
    return this.channel.closed || this.channel.socket.destroyed;
  }

  get queuedBytes(): number {
    return this.channel.socket.writableLength;
  }

  write(frame: Uint8Array, onWritten?: (ok: boolean) => void): void {
    if (this.closed) {
      onWritten?.(false);
      return;
    }
    // A destroyed socket calls pending callbacks with an error: pooled memory always comes back.
    this.channel.socket.write(frame, onWritten ? (err) => onWritten(!err) : undefined);
  }

  onceDrained(fn: () => void): void {
    const socket = this.channel.socket;
    if (socket.writableNeedDrain) socket.once('drain', fn);
    else setImmediate(fn);
  }

  batch(fn: () => void): void {
    const socket = this.channel.socket;
    socket.cork();
    try {
      fn();
    } finally {
      socket.uncork();
    }
  }

  end(): void {
    this.channel.end();
  }

  onClose(fn: () => void): void {
    this.channel.onClose(fn);
  }
}
