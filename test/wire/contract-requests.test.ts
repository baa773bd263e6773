// Every request type of the v1 seed and of the reference's newest proto, encoded by a client built
// only from that contract (test/helpers/contract-client.ts, protobufjs reflection), sent to a real
// daemon: each is decoded and answered with the right status and its payload field, and a request
// sent without its payload is answered as the all-default payload is. A type a contract gains is a
// failure here until it has a case (test/wire/numbering.test.ts checks the numbers themselves).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeTempHome, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { Contract, ContractConnection, type ContractName, type Plain } from '../helpers/contract-client';
import { unusedPid } from '../registry/fixtures';

let daemon: TestDaemon | null = null;
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** What the run knows so far (ids of what earlier requests made). */
interface Ctx {
  contract: Contract;
  socketPath: string;
  pid: number;
  ghostPid: number;
  teeFile: string;
  pty: string;
  pipe: string;
  teeHandle: number;
  subscriber: string;
}

/** One request type: its payload (snake_case), the status it must get, and what to check or keep. */
interface Case {
  payload?: (ctx: Ctx) => Plain;
  code?: string;
  /** Streaming types: answered on a connection of their own, which is then ended. */
  stream?: boolean;
  after?: (response: Plain, ctx: Ctx) => void;
}

const OK = 'STATUS_CODE_OK';

// In the order they are sent: what a later request needs, an earlier one made.
const CASES: Record<string, Case> = {
  REQUEST_TYPE_PING: {},
  REQUEST_TYPE_STATUS: { after: (r) => expect(r.status.scope).toBe('test') },
  REQUEST_TYPE_REGISTER: { payload: (c) => ({ pid: c.pid, command: 'sleep 60', kind: 'test', originator: 'contract:1' }) },
  REQUEST_TYPE_LIST_ACTIVE: { after: (r, c) => expect(r.list_active.processes.map((p: Plain) => p.pid)).toContain(c.pid) },
  REQUEST_TYPE_LIST_BY_ORIGINATOR: { payload: () => ({ tool: 'contract' }), after: (r, c) => expect(r.list_by_originator.processes[0].pid).toBe(c.pid) },
  REQUEST_TYPE_GET_PROCESS_TREE: { payload: (c) => ({ pid: c.pid }), after: (r, c) => expect(r.get_process_tree.tree_display).toContain(`pid=${c.pid}`) },
  REQUEST_TYPE_UNREGISTER: { payload: (c) => ({ pid: c.pid }) },
  REQUEST_TYPE_SPAWN_DAEMON: { payload: () => ({ command: 'true' }), after: (r) => expect(r.spawn_daemon.pid).toBeGreaterThan(0) },
  REQUEST_TYPE_KILL_ZOMBIES: { payload: () => ({ dry_run: true }) },
  REQUEST_TYPE_KILL_TREE: { payload: (c) => ({ pid: c.ghostPid }) },
  REQUEST_TYPE_SERVICE_START: { payload: () => ({ config: { name: 'svc', cmd: ['sleep', '60'] } }), after: (r) => expect(r.service_start.service.name).toBe('svc') },
  REQUEST_TYPE_SERVICE_DESCRIBE: { payload: () => ({ target: 'svc' }), after: (r) => expect(r.service_describe.service.config.cmd).toEqual(['sleep', '60']) },
  REQUEST_TYPE_SERVICE_LIST: { after: (r) => expect(r.service_list.services.map((s: Plain) => s.name)).toEqual(['svc']) },
  REQUEST_TYPE_SERVICE_LOGS: { payload: () => ({ target: 'svc', lines: 5 }) },
  REQUEST_TYPE_SERVICE_FLUSH: { payload: () => ({ target: 'svc' }) },
  REQUEST_TYPE_SERVICE_RESTART: { payload: () => ({ target: 'svc' }), after: (r) => expect(r.service_restart.restarted_count).toBe(1) },
  REQUEST_TYPE_SERVICE_STOP: { payload: () => ({ target: 'svc' }), after: (r) => expect(r.service_stop.stopped_count).toBe(1) },
  REQUEST_TYPE_SERVICE_SAVE: { after: (r) => expect(r.service_save.service_count).toBe(1) },
  REQUEST_TYPE_SERVICE_DELETE: { payload: () => ({ target: 'svc' }), after: (r) => expect(r.service_delete.deleted_count).toBe(1) },
  REQUEST_TYPE_SERVICE_RESURRECT: { after: (r) => expect(r.service_resurrect.restored_count).toBe(1) },
  REQUEST_TYPE_SPAWN_PTY_SESSION: { payload: () => ({ argv: ['sleep', '60'], rows: 24, cols: 80 }), after: (r, c) => { c.pty = r.spawn_pty_session.session_id; } },
  REQUEST_TYPE_ATTACH_PTY_SESSION: { payload: (c) => ({ session_id: c.pty, rows: 30, cols: 100, is_tty: true }), stream: true },
  REQUEST_TYPE_DETACH_PTY_SESSION: { payload: (c) => ({ session_id: c.pty }) },
  REQUEST_TYPE_LIST_PTY_SESSIONS: { after: (r, c) => expect(r.list_pty_sessions.sessions.map((s: Plain) => s.session_id)).toEqual([c.pty]) },
  REQUEST_TYPE_RESIZE_PTY_SESSION: { payload: (c) => ({ session_id: c.pty, rows: 40, cols: 120 }) },
  REQUEST_TYPE_TERMINATE_PTY_SESSION: { payload: (c) => ({ session_id: c.pty, grace_ms: 100 }) },
  REQUEST_TYPE_SPAWN_PIPE_SESSION: { payload: () => ({ argv: ['cat'] }), after: (r, c) => { c.pipe = r.spawn_pipe_session.session_id; } },
  REQUEST_TYPE_ATTACH_PIPE_STREAM: { payload: (c) => ({ session_id: c.pipe, stream: 1 }), stream: true },
  REQUEST_TYPE_DETACH_PIPE_STREAM: { payload: (c) => ({ session_id: c.pipe, stream: 1 }) },
  REQUEST_TYPE_WRITE_PIPE_STDIN: { payload: () => ({ data: Buffer.from('hello\n') }), code: 'STATUS_CODE_INVALID_ARGUMENT' },
  REQUEST_TYPE_LIST_PIPE_SESSIONS: { after: (r, c) => expect(r.list_pipe_sessions.sessions.map((s: Plain) => s.session_id)).toEqual([c.pipe]) },
  REQUEST_TYPE_REGISTER_SESSION_TEE: {
    payload: (c) => ({ session_id: c.pipe, session_kind: 2, stream: 2, sink_kind: 1, file_path: Buffer.from(c.teeFile) }),
    after: (r, c) => { c.teeHandle = Number(r.register_session_tee.tee_handle); },
  },
  REQUEST_TYPE_GET_SESSION_TEE_STATUS: { payload: (c) => ({ session_id: c.pipe, session_kind: 2, tee_handle: c.teeHandle }) },
  REQUEST_TYPE_UNREGISTER_SESSION_TEE: { payload: (c) => ({ session_id: c.pipe, session_kind: 2, tee_handle: c.teeHandle }) },
  REQUEST_TYPE_GET_SESSION_BACKLOG: { payload: (c) => ({ session_id: c.pipe, pipe_stream: 1 }), after: (r) => expect(r.get_session_backlog.session_kind).toBe('pipe') },
  REQUEST_TYPE_REGISTER_SESSION_OBSERVER: { payload: (c) => ({ session_id: c.pipe, session_kind: 2, categories: [0], ring_capacity_events: 8 }), after: (r, c) => { c.subscriber = r.register_session_observer.subscriber_id; } },
  REQUEST_TYPE_GET_SESSION_OBSERVER_STATUS: { payload: (c) => ({ session_id: c.pipe, session_kind: 2, subscriber_id: c.subscriber }) },
  REQUEST_TYPE_UNREGISTER_SESSION_OBSERVER: { payload: (c) => ({ session_id: c.pipe, session_kind: 2, subscriber_id: c.subscriber }) },
  REQUEST_TYPE_TERMINATE_PIPE_SESSION: { payload: (c) => ({ session_id: c.pipe, grace_ms: 100 }) },
  REQUEST_TYPE_PURGE_EXITED_SESSIONS: {},
  REQUEST_TYPE_BULK_TERMINATE_SESSIONS: { payload: () => ({ older_than_secs: 3600 }) },
  REQUEST_TYPE_SHUTDOWN: { payload: () => ({ graceful: true, timeout_seconds: 1 }) },
};

// WRITE_PIPE_STDIN above has no session_id on purpose: an INVALID_ARGUMENT that names it, from
// a contract client too. The real write comes with the backlog check below.

async function runEveryType(name: ContractName): Promise<void> {
  const contract = new Contract(name);
  const codeName = (n: number) => contract.enum('StatusCode').valuesById[n];
  const types = contract.requestTypes();
  expect(types.filter((t) => !CASES[t.name]).map((t) => t.name), 'request types without a case').toEqual([]);
  expect(types).toHaveLength(name === 'v1-seed' ? 39 : 42);
  const home = makeTempHome();
  dirs.push(home);
  daemon = await startDaemon();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(sleeper);
  const ctx: Ctx = {
    contract, socketPath: daemon.paths.socketPath, pid: sleeper.pid!, ghostPid: unusedPid(),
    teeFile: path.join(home, 'tee.log'), pty: '', pipe: '', teeHandle: 0, subscriber: '',
  };
  const conn = await ContractConnection.open(contract, ctx.socketPath);
  const answered: string[] = [];
  try {
    for (const [typeName, c] of Object.entries(CASES)) {
      const t = types.find((x) => x.name === typeName);
      if (!t) continue; // not in this contract (the seed has no observers)
      const fields: Plain = { type: t.id, [t.field.name]: c.payload ? c.payload(ctx) : {} };
      let response: Plain;
      if (c.stream) {
        const own = await ContractConnection.open(contract, ctx.socketPath);
        response = await own.call(fields);
        own.close();
      } else {
        response = await conn.call(fields);
      }
      const want = c.code ?? OK;
      expect([typeName, codeName(response.code ?? 0), response.message ?? '']).toEqual([typeName, want, response.message ?? '']);
      if (want === OK) {
        expect(response[t.field.name], `${typeName} answered without its payload field ${t.field.name}`).toBeDefined();
        c.after?.(response, ctx);
      } else {
        expect(response.message).toMatch(/session_id/);
      }
      if (typeName === 'REQUEST_TYPE_DETACH_PIPE_STREAM') {
        // The real write, read back without consuming anything.
        const w = await conn.call({ type: contract.enum('RequestType').values.REQUEST_TYPE_WRITE_PIPE_STDIN, write_pipe_stdin: { session_id: ctx.pipe, data: Buffer.from('hello\n') } });
        expect(Number(w.write_pipe_stdin.bytes_written)).toBe(6);
        await waitFor(async () => {
          const b = await conn.call({ type: contract.enum('RequestType').values.REQUEST_TYPE_GET_SESSION_BACKLOG, get_session_backlog: { session_id: ctx.pipe } });
          return Buffer.from(b.get_session_backlog.backlog ?? []).toString() === 'hello\n';
        }, 'cat to echo the write');
      }
      answered.push(typeName);
    }
  } finally {
    conn.close();
  }
  expect(answered.sort()).toEqual(types.map((t) => t.name).sort());
  // SHUTDOWN was answered OK and the daemon goes.
  expect(await daemon.exited).toBe(0);
}

describe('every request type, as a contract client encodes it', () => {
  it('v1 seed: each of its 39 types is decoded and answered with the right status and payload', async () => {
    await runEveryType('v1-seed');
  });

  it("reference's newest proto: each of its 42 types (observers included) likewise", async () => {
    await runEveryType('reference-head');
  });

  it('a request without its payload is answered as its all-default payload is, for every type', async () => {
    const contract = new Contract('reference-head');
    const codeName = (n: number) => contract.enum('StatusCode').valuesById[n];
    daemon = await startDaemon();
    const conn = await ContractConnection.open(contract, daemon.paths.socketPath);
    try {
      for (const t of contract.requestTypes()) {
        if (t.name === 'REQUEST_TYPE_SHUTDOWN') continue; // would stop the daemon mid-test
        const none = await conn.call({ type: t.id });
        const empty = await conn.call({ type: t.id, [t.field.name]: {} });
        expect([t.name, codeName(none.code ?? 0)]).toEqual([t.name, codeName(empty.code ?? 0)]);
        expect(none.code === empty.code && (none.message ?? '') === (empty.message ?? '')).toBe(true);
      }
    } finally {
      conn.close();
    }
  });
});
