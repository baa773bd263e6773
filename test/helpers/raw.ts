// A raw socket to the daemon for tests that must send bytes the real client never would.
import * as net from 'node:net';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';
import { decodeResponse, encodeRequest } from '../../src/wire/envelope';
import type { DaemonResponse } from '../../src/wire/proto';
import { waitFor } from './daemon';

export class RawConnection {
  readonly responses: DaemonResponse[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder((b) => this.responses.push(decodeResponse(b)), Number.MAX_SAFE_INTEGER);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.decoder.push(c));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static open(socketPath: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendBody(body: Uint8Array): void {
    this.socket.write(encodeFrame(body));
  }

  sendRequest(request: Record<string, unknown>): void {
    this.sendBody(encodeRequest(request));
  }

  /** Waits until n responses have arrived. */
  async waitResponses(n: number, timeoutMs = 10_000): Promise<DaemonResponse[]> {
    await waitFor(() => this.responses.length >= n, `${n} responses (have ${this.responses.length})`, timeoutMs);
    return this.responses;
  }

  waitClosed(timeoutMs = 10_000): Promise<boolean> {
    return waitFor(() => this.closed, 'the daemon to close the connection', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
