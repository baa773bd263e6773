// PTY tees through the real handlers (75–77) over a fake PTY session whose "output" stream is a real
// OutputStream: PTY sessions are not in the daemon yet, so this pins what they will get — PTY_OUTPUT
// and STDIN tees, BLOCK flow control through the generic OutputStream, and PTY stream choices.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { teeEntries } from '../../src/daemon/handlers/tee';
import type { HandlerContext, UnaryEntry } from '../../src/daemon/dispatch';
import type { DaemonState } from '../../src/daemon/state';
import { nullLogger } from '../../src/daemon/log';
import { OutputStream, type AttachFrameCodec } from '../../src/sessions/output-stream';
import { TapSet, type StreamTap } from '../../src/sessions/tap-set';
import { TeeRegistry } from '../../src/tee/tee-registry';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { waitFor } from '../helpers/daemon';

const codec: AttachFrameCodec = {
  bytes: (b) => b, missed: () => Buffer.alloc(0), eof: () => Buffer.alloc(0),
  exitCode: () => Buffer.alloc(0), error: () => Buffer.alloc(0), stolenBy: () => Buffer.alloc(0),
  detached: () => Buffer.alloc(0),
};

class FakePtySession {
  readonly kind = 'pty' as const;
  readonly id = 'pty-1';
  exit: null | { code: number } = null;
  readonly output = new OutputStream('output of session pty-1', 1 << 16, codec);
  readonly streams = new Map([['output', this.output]]);
  readonly stdinTaps = new TapSet();
  paused = 0;
  constructor() {
    this.output.setSource({ pause: () => this.paused++, resume: () => {} });
  }
  addStdinTap(tap: StreamTap) { this.stdinTaps.add(tap); }
  removeStdinTap(tap: StreamTap) { this.stdinTaps.remove(tap); }
}

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

function setup() {
  const session = new FakePtySession();
  const state = {
    log: nullLogger,
    sessions: { find: (id: string) => (id === session.id ? session : undefined) },
    tees: new TeeRegistry(),
  } as unknown as DaemonState;
  const ctx = { state, requestId: 1, clientLabel: 't', connectionId: 1, afterResponse: () => {}, clientGone: () => false } as HandlerContext;
  const entry = (type: RequestType) => teeEntries.find((e) => e.type === type) as UnaryEntry<'registerSessionTee'>;
  const call = async (type: RequestType, req: Record<string, unknown>) =>
    (entry(type).handle as (r: unknown, c: HandlerContext) => unknown)(req, ctx);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-teepty-'));
  dirs.push(dir);
  return { session, call, dir };
}

const PTY = pb.TeeSessionKind.TEE_SESSION_KIND_PTY;

function register(call: ReturnType<typeof setup>['call'], fields: Record<string, unknown>) {
  return call(RequestType.REQUEST_TYPE_REGISTER_SESSION_TEE, {
    sessionId: 'pty-1', sessionKind: PTY, stream: pb.TeeStreamKind.TEE_STREAM_KIND_PTY_OUTPUT,
    sinkKind: pb.TeeSinkKind.TEE_SINK_KIND_FILE, fileMode: 0, queueCapacity: 0, suppressMissedMarkers: false, backpressure: 0,
    ...fields,
  }) as Promise<{ teeHandle: number }>;
}

describe('tees on PTY sessions (handler level)', () => {
  it('PTY_OUTPUT and STDIN tees copy their streams; the session end closes them', async () => {
    const { session, call, dir } = setup();
    const out = path.join(dir, 'out.log');
    const inp = path.join(dir, 'in.log');
    expect((await register(call, { filePath: Buffer.from(out), backpressure: 1 })).teeHandle).toBe(1);
    expect((await register(call, { filePath: Buffer.from(inp), stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDIN })).teeHandle).toBe(2);
    session.output.push(Buffer.from('$ ls\r\n'));
    session.stdinTaps.write(Buffer.from('ls\r'));
    const st = await call(RequestType.REQUEST_TYPE_GET_SESSION_TEE_STATUS, { sessionId: 'pty-1', sessionKind: PTY, teeHandle: 1 });
    expect(st).toEqual({ stream: pb.TeeStreamKind.TEE_STREAM_KIND_PTY_OUTPUT, missedBytes: 0, disconnected: false });
    session.output.end({ kind: 'exit', code: 0 });
    session.stdinTaps.end();
    await waitFor(() => fs.readFileSync(out, 'utf8') === '$ ls\r\n' && fs.readFileSync(inp, 'utf8') === 'ls\r', 'files written');
    await call(RequestType.REQUEST_TYPE_UNREGISTER_SESSION_TEE, { sessionId: 'pty-1', sessionKind: PTY, teeHandle: 1 });
  });

  it('a BLOCK tee pauses the PTY source through OutputStream.pauseSource when its queue fills', async () => {
    const { session, call, dir } = setup();
    await register(call, { filePath: Buffer.from(path.join(dir, 'b.log')), backpressure: 1, queueCapacity: 1 });
    session.output.push(Buffer.from('a'));
    session.output.push(Buffer.from('b'));
    expect(session.paused).toBeGreaterThan(0);
  });

  it('refuses pipe streams on a PTY session and a PIPE kind for it', async () => {
    const { call, dir } = setup();
    const f = Buffer.from(path.join(dir, 'x.log'));
    await expect(register(call, { filePath: f, stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDOUT }))
      .rejects.toMatchObject({ code: StatusCode.STATUS_CODE_INVALID_ARGUMENT, message: expect.stringMatching(/TEE_STREAM_KIND_STDOUT \(2\) is not valid for a PTY session; use one of .*PTY_OUTPUT/) });
    await expect(register(call, { filePath: f, sessionKind: pb.TeeSessionKind.TEE_SESSION_KIND_PIPE, stream: pb.TeeStreamKind.TEE_STREAM_KIND_STDOUT }))
      .rejects.toMatchObject({ code: StatusCode.STATUS_CODE_INVALID_ARGUMENT, message: expect.stringMatching(/is a PTY session, but session_kind says PIPE/) });
  });
});
