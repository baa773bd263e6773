// The streaming side of a connection: once a streaming request (attach, events) was answered, its
// handler gets this StreamChannel over the socket and owns the connection until it ends or closes.
import type { Socket } from 'node:net';
import { encodeFrame } from '../wire/frame';
import type { StreamChannel } from './dispatch';

/** After a stream ends, how long the peer has to close its side before the socket is destroyed. */
export const STREAM_END_GRACE_MS = 5000;

/** StreamChannel over a connection's socket, handed to a streaming handler. */
export class ConnectionStream implements StreamChannel {
  private inputListener: ((body: Buffer) => void) | null = null;
  private readonly closeListeners: Array<() => void> = [];
  closed = false;

  constructor(readonly socket: Socket, readonly clientLabel: string) {}

  /** A channel whose client is already gone: onClose listeners run as they are added. */
  static closedOn(socket: Socket, clientLabel: string): ConnectionStream {
    const channel = new ConnectionStream(socket, clientLabel);
    channel.closed = true;
    return channel;
  }

  writeFrame(body: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(encodeFrame(body));
  }

  writeEncodedFrame(frame: Buffer, onFlushed?: () => void): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(frame, onFlushed ? () => onFlushed() : undefined);
  }

  onInput(listener: (body: Buffer) => void): void {
    this.inputListener = listener;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never closes its side must not hold the fd forever.
    setTimeout(() => this.socket.destroy(), STREAM_END_GRACE_MS).unref();
  }

  deliverInput(body: Buffer): void {
    this.inputListener?.(body);
  }

  fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeListeners.splice(0)) fn();
  }
}
