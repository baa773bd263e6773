// A client built only from a contract file (test/fixtures/contracts): protobufjs reflection over
// the v1 seed or the reference's newest proto, a raw unix socket and the 4-byte length framing.
// It knows nothing of our generated code, so it encodes every request exactly as a reference or
// v1 client would (including omitting payloads it leaves unset) and reads answers the same way.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { waitFor } from './daemon';

export const CONTRACTS = path.join(__dirname, '..', 'fixtures', 'contracts');
export type ContractName = 'v1-seed' | 'reference-head';
const PACKAGE = 'running_process.daemon.v1';

/** One contract's message types, looked up by name. */
export class Contract {
  readonly root: protobuf.Root;

  constructor(readonly name: ContractName) {
    this.root = protobuf.parse(fs.readFileSync(path.join(CONTRACTS, `${name}.proto`), 'utf8'), { keepCase: true }).root;
  }

  type(name: string): protobuf.Type {
    return this.root.lookupType(`${PACKAGE}.${name}`);
  }

  enum(name: string): protobuf.Enum {
    return this.root.lookupEnum(`${PACKAGE}.${name}`);
  }

  /** Every RequestType of the contract but UNSPECIFIED, with its payload field (same number). */
  requestTypes(): Array<{ name: string; id: number; field: protobuf.Field }> {
    const types = this.enum('RequestType');
    const request = this.type('DaemonRequest');
    return Object.entries(types.values)
      .filter(([, id]) => id !== 0)
      .map(([name, id]) => ({ name, id, field: request.fieldsById[id] }));
  }
}

/** A decoded answer as a plain object (snake_case, longs as numbers, enums as numbers). */
export type Plain = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One socket speaking one contract; frames after a streaming answer are kept raw. */
export class ContractConnection {
  readonly frames: Buffer[] = [];
  closed = false;
  private pending = Buffer.alloc(0);
  private nextId = 1;

  private constructor(readonly contract: Contract, readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static open(contract: Contract, socketPath: string): Promise<ContractConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => resolve(new ContractConnection(contract, s)));
      s.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const n = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + n) return;
      this.frames.push(this.pending.subarray(4, 4 + n));
      this.pending = this.pending.subarray(4 + n);
    }
  }

  /** Sends a DaemonRequest built from plain snake_case fields; returns the id it used. */
  sendRequest(fields: Plain): number {
    const id = this.nextId++;
    const type = this.contract.type('DaemonRequest');
    const message = type.fromObject({ id, protocol_version: 1, client_name: `${this.contract.name}-client`, ...fields });
    this.sendBody(type.encode(message).finish());
    return id;
  }

  sendBody(body: Uint8Array): void {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    this.socket.write(Buffer.concat([header, body]));
  }

  /** Waits for frame number `index` (0-based) and returns its body. */
  async frame(index: number, timeoutMs = 10_000): Promise<Buffer> {
    await waitFor(() => this.frames.length > index || this.closed, `frame ${index} (have ${this.frames.length})`, timeoutMs);
    if (this.frames.length <= index) throw new Error(`connection closed before frame ${index}`);
    return this.frames[index];
  }

  /** Frame `index` decoded as a DaemonResponse of the contract. */
  async response(index: number): Promise<Plain> {
    return this.decode('DaemonResponse', await this.frame(index));
  }

  decode(typeName: string, body: Uint8Array): Plain {
    const type = this.contract.type(typeName);
    return type.toObject(type.decode(body), { longs: Number, enums: Number, defaults: false, bytes: Buffer });
  }

  /** One request, one answer: sends and decodes the next frame. */
  async call(fields: Plain): Promise<Plain> {
    const index = this.frames.length;
    this.sendRequest(fields);
    return this.response(index);
  }

  close(): void {
    this.socket.destroy();
  }
}
