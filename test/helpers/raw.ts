// A raw socket to the daemon for tests that must send bytes the real client never would.
import * as net from 'node:net';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame';
import { decodeResponse, encodeRequest } from '../../src/wire/envelope';
import { RequestType, type DaemonResponse } from '../../src/wire/proto';
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

/**
 * Connects, sends a PING and resolves with the first answer: the PING's (code OK: the connection
 * was taken) or a refusal the daemon sends instead; 'closed' or the error when it ends without
 * one. An observable outcome either way, with no window to wait out. The socket goes into `held`.
 */
export function firstAnswerToPing(socketPath: string, held: net.Socket[]): Promise<{ code: number; message: string } | 'closed' | Error> {
  return new Promise((done) => {
    const socket = net.connect(socketPath);
    held.push(socket);
    const decoder = new FrameDecoder((body) => {
      const r = decodeResponse(body);
      done({ code: r.code ?? 0, message: r.message ?? '' });
    });
    socket.on('data', (d: Buffer) => decoder.push(d));
    socket.on('error', (err) => done(err));
    socket.on('close', () => done('closed'));
    socket.once('connect', () => socket.write(encodeFrame(encodeRequest({ id: 1, type: RequestType.REQUEST_TYPE_PING, ping: {} }))));
  });
}
