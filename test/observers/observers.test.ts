// Black-box tests of session observers (request types 78–80 and our 1090): real lifecycle and
// process events of real sessions, the bounded sink, DROP_OLDEST and BLOCK, delivered/missed
// counts, disconnected, the end of a subscription, and every bad input.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { StatusCode } from '../../src/wire/proto';
import type { DaemonClient } from '../../src/client/daemon-client';
import type { ObserverFrame, ObserverRef, ObserverStream } from '../../src/client/observers-api';
import '../../src/client/index';
import { expectDaemonError } from '../sessions/helpers';

let daemon: TestDaemon | null = null;
/** Processes a test let escape its session (killed here even when the test failed). */
const strays: number[] = [];
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
});

/** Reads a stream's frames in the background; `ended` once the terminal frame came. */
function reader(stream: ObserverStream) {
  const frames: ObserverFrame[] = [];
  let ended = false;
  void (async () => {
    for await (const f of stream) frames.push(f);
    ended = true;
  })();
  return {
    frames,
    get ended() { return ended; },
    events: () => frames.filter((f): f is Extract<ObserverFrame, { kind: 'event' }> => f.kind === 'event').map((f) => f.event),
    async until(what: string, cond: (frames: ObserverFrame[]) => boolean) {
      await waitFor(() => cond(frames), `${what} (frames: ${JSON.stringify(frames)})`);
    },
  };
}

/** A pipe session that waits for a line on stdin, then runs `then` (shell). */
async function gated(c: DaemonClient, then: string): Promise<{ sessionId: string; pid: number }> {
  const s = await c.spawnPipe({ argv: ['sh', '-c', `read line; ${then}`] });
  return { sessionId: s.sessionId, pid: s.pid };
}

/** One attach and detach by another client: an ATTACHED and a DETACHED event. */
async function attachDetach(c: DaemonClient, sessionId: string): Promise<void> {
  const att = await c.attachPipe(sessionId);
  await c.detachPipe(sessionId);
  for await (const f of att) void f; // until the daemon ends it
}

function ref(sessionId: string, subscriberId: string, sessionKind: 'pipe' | 'pty' = 'pipe'): ObserverRef {
  return { sessionId, sessionKind, subscriberId };
}

describe('session observers: lifecycle events', () => {
  it('delivers attach, detach and exit of a real session in order, then session_ended; counts them', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 3');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await attachDetach(c, s.sessionId);
    await c.writeStdin(s.sessionId, 'go\n');
    await r.until('session_ended', (f) => f.at(-1)?.kind === 'session-ended');
    const events = r.events();
    expect(events.map((e) => [e.category, e.kind, e.stream])).toEqual([
      ['lifecycle', 'attached', 'stdout'], ['lifecycle', 'detached', 'stdout'], ['lifecycle', 'exited', ''],
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[2]).toMatchObject({ pid: s.pid, exitCode: 3 });
    expect(events[0].detail).toMatch(/connection #\d+/);
    expect(events.every((e) => e.timestampMs > Date.now() - 60_000)).toBe(true);
    await waitFor(() => r.ended, 'the daemon to close the stream');
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id)))
      .toEqual({ missedEvents: 0, deliveredEvents: 3, pendingEvents: 0, disconnected: false, receiving: false });
  });

  it('queues events from registration until a receiver streams them (nothing lost in between)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    await attachDetach(c, s.sessionId);
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(async () => (await c.getSessionObserverStatus(ref(s.sessionId, id))).pendingEvents === 3, '3 pending events');
    const stream = await c.streamSessionObserver(ref(s.sessionId, id));
    expect([stream.pendingEvents, stream.deliveredEvents, stream.missedEvents]).toEqual([3, 0, 0]);
    const r = reader(stream);
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.frames.map((f) => (f.kind === 'event' ? f.event.kind : f.kind))).toEqual(['attached', 'detached', 'exited', 'session-ended']);
  });

  it('survives the registering connection going away: another client streams and reads its status', async () => {
    daemon = await startDaemon();
    const first = await daemon.connect();
    const s = await gated(daemon.client, 'exit 0');
    const id = await first.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    first.close();
    await attachDetach(daemon.client, s.sessionId);
    expect((await daemon.client.getSessionObserverStatus(ref(s.sessionId, id))).pendingEvents).toBe(2);
    const r = reader(await daemon.client.streamSessionObserver(ref(s.sessionId, id)));
    await daemon.client.writeStdin(s.sessionId, 'go\n');
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.events().map((e) => e.kind)).toEqual(['attached', 'detached', 'exited']);
  });

  it('observes PTY sessions too (attach of a PTY client, exit with its code)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPty({ argv: ['sh', '-c', 'read x; exit 7'] });
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pty' });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id, 'pty')));
    const att = await c.attachPty(s.sessionId);
    att.write('go\n');
    await waitFor(() => r.ended, 'the stream to end');
    att.close();
    expect(r.events().map((e) => [e.kind, e.stream, e.exitCode])).toEqual([['attached', 'output', 0], ['exited', '', 7]]);
  });

  it('a subscription on a session that already exited ends at once with session_ended', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.spawnPipe({ argv: ['true'] });
    await waitFor(async () => (await c.listPipes())[0]?.exited, 'exited');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', categories: ['lifecycle', 'process'] });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.frames).toEqual([{ kind: 'session-ended' }]);
  });
});

describe('session observers: the bounded sink', () => {
  it('DROP_OLDEST keeps the newest events and counts the rest: capacity 2, 5 events', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 4');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', capacity: 2 });
    await attachDetach(c, s.sessionId);
    await attachDetach(c, s.sessionId);
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(async () => (await c.listPipes())[0]?.exited, 'exited');
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id)))
      .toEqual({ missedEvents: 3, deliveredEvents: 0, pendingEvents: 2, disconnected: false, receiving: false });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await waitFor(() => r.ended, 'the stream to end');
    // The gap is told where it is, and the exit (the newest) is never the one dropped.
    expect(r.frames.map((f) => (f.kind === 'event' ? `${f.event.kind}#${f.event.seq}` : f.kind === 'missed' ? `missed ${f.events}` : f.kind)))
      .toEqual(['missed 3', 'detached#4', 'exited#5', 'session-ended']);
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id))).toMatchObject({ missedEvents: 3, deliveredEvents: 2, pendingEvents: 0 });
  });

  it('disconnected: after its receiver leaves, events are missed (not queued) until a receiver streams again', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    const stream = await c.streamSessionObserver(ref(s.sessionId, id));
    expect((await c.getSessionObserverStatus(ref(s.sessionId, id))).receiving).toBe(true);
    stream.close();
    await waitFor(async () => (await c.getSessionObserverStatus(ref(s.sessionId, id))).disconnected, 'disconnected');
    await attachDetach(c, s.sessionId);
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id)))
      .toEqual({ missedEvents: 2, deliveredEvents: 0, pendingEvents: 0, disconnected: true, receiving: false });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    expect((await c.getSessionObserverStatus(ref(s.sessionId, id))).disconnected).toBe(false);
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.frames.map((f) => (f.kind === 'event' ? `${f.event.kind}#${f.event.seq}` : f.kind === 'missed' ? `missed ${f.events}` : f.kind)))
      .toEqual(['missed 2', 'exited#3', 'session-ended']);
  });

  it('BLOCK holds the session: a full queue stops the reading of its output until a receiver takes events', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const total = 8 * 1024 * 1024;
    const s = await gated(c, `head -c ${total} /dev/zero`);
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', capacity: 1, block: true });
    await attachDetach(c, s.sessionId); // two events: the queue (capacity 1) is full, the session held
    expect((await c.getSessionObserverStatus(ref(s.sessionId, id))).pendingEvents).toBe(2);
    await c.writeStdin(s.sessionId, 'go\n');
    const head = await waitFor(() => childOf(s.pid), 'head started');
    await waitBlockedOnWrite(head);
    const held = await c.backlog(s.sessionId);
    // The child wanted to write 8 MiB and waits on its pipe: the daemon read at most a few reads' worth.
    expect(held.backlog.length + Number(held.bytesMissed)).toBeLessThan(1024 * 1024);
    expect((await c.listPipes())[0]!.exited).toBe(false);
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await waitFor(() => r.ended, 'the stream to end (session released, child done)');
    expect(r.events().map((e) => e.kind)).toEqual(['attached', 'detached', 'exited']);
    const done = await c.backlog(s.sessionId);
    expect(done.backlog.length + Number(done.bytesMissed)).toBe(total);
    expect((await c.getSessionObserverStatus(ref(s.sessionId, id))).missedEvents).toBe(0);
  });

  it('BLOCK with nobody taking events is cut loose after --observer-stall-ms: disconnected, the session goes on, misses counted', async () => {
    daemon = await startDaemon({ args: ['--observer-stall-ms', '300'] });
    const c = daemon.client;
    const s = await gated(c, 'head -c 4000000 /dev/zero');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', capacity: 1, block: true });
    await attachDetach(c, s.sessionId);
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(async () => (await c.getSessionObserverStatus(ref(s.sessionId, id))).disconnected, 'cut loose', 15_000);
    await waitFor(async () => (await c.listPipes())[0]?.exited, 'the released session ran to its end');
    // The two queued events stay for a late receiver; the exit came while cut loose: missed.
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id))).toMatchObject({ pendingEvents: 2, missedEvents: 1, disconnected: true });
    expect(daemon.stderr()).toMatch(/cut loose/);
  });
});

describe('session observers: PROCESS events', () => {
  it('reports descendants starting and exiting (pid and command name), then ends after the last one', async () => {
    daemon = await startDaemon({ args: ['--observer-poll-ms', '20'] });
    const c = daemon.client;
    const marker = `/tmp/rp-obs-${process.pid}-${Date.now()}`;
    // The sleep outlives the shell: the subscription ends only once it has exited too.
    const s = await gated(c, `sleep 30 & echo $! > ${marker}; read again; exit 0`);
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', categories: ['lifecycle', 'process'] });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await c.writeStdin(s.sessionId, 'go\n');
    await r.until('the sleep started', () => r.events().some((e) => e.kind === 'descendant-started' && e.detail === 'sleep'));
    const sleepPid = Number(await waitFor(() => (fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : ''), 'marker'));
    fs.rmSync(marker, { force: true });
    strays.push(sleepPid);
    expect(r.events().find((e) => e.detail === 'sleep')!.pid).toBe(sleepPid);
    await c.writeStdin(s.sessionId, 'again\n');
    await r.until('the shell exited', () => r.events().some((e) => e.kind === 'exited'));
    expect(r.ended).toBe(false); // the sleep still runs
    process.kill(sleepPid, 'SIGKILL');
    await waitFor(() => r.ended, 'the stream to end after the sleep exited');
    expect(r.events().filter((e) => e.category === 'process' && e.pid === sleepPid).map((e) => e.kind)).toEqual(['descendant-started', 'descendant-exited']);
    expect(r.frames.at(-1)).toEqual({ kind: 'session-ended' });
  });
});

describe('session observers: ending and handing over', () => {
  it('unregister ends the receiver with `unregistered`; the id is gone and never reused', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await c.unregisterSessionObserver(ref(s.sessionId, id));
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.frames).toEqual([{ kind: 'unregistered' }]);
    await expectDaemonError(c.getSessionObserverStatus(ref(s.sessionId, id)), StatusCode.STATUS_CODE_NOT_FOUND, /no observer with subscriber_id/);
    await expectDaemonError(c.unregisterSessionObserver(ref(s.sessionId, id)), StatusCode.STATUS_CODE_NOT_FOUND, /no observer/);
    const again = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    expect(again).not.toBe(id);
    await c.writeStdin(s.sessionId, 'go\n');
  });

  it('a second receiver is ALREADY_ATTACHED; with steal it takes over and the first gets stolen_by', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    const first = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await expectDaemonError(c.streamSessionObserver(ref(s.sessionId, id)), StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already streamed by/);
    const second = reader(await c.streamSessionObserver(ref(s.sessionId, id), { steal: true }));
    await waitFor(() => first.ended, 'the first receiver to end');
    expect(first.frames).toEqual([{ kind: 'stolen', by: expect.stringMatching(/connection #\d+/) }]);
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(() => second.ended, 'the second receiver to end');
    expect(second.events().map((e) => e.kind)).toEqual(['exited']);
  });

  it('purging the session drops its subscriptions: the receiver gets an error frame, status is NOT_FOUND', async () => {
    // Polls so rare that the PROCESS subscription cannot have seen its descendants end when the purge comes.
    daemon = await startDaemon({ args: ['--observer-poll-ms', '600000'] });
    const c = daemon.client;
    const s = await gated(c, 'sleep 30 & echo $!; exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', categories: ['process'] });
    const r = reader(await c.streamSessionObserver(ref(s.sessionId, id)));
    await c.writeStdin(s.sessionId, 'go\n');
    await waitFor(async () => (await c.listPipes())[0]?.exited, 'exited');
    const sleepPid = Number((await c.backlog(s.sessionId)).backlog.toString().trim());
    strays.push(sleepPid);
    // A session whose leftover processes still run is not purged: end the sleep first.
    process.kill(sleepPid, 'SIGKILL');
    await waitFor(async () => (await c.purge()).pipePurged === 1, 'the session purged');
    await waitFor(() => r.ended, 'the stream to end');
    expect(r.frames.at(-1)).toEqual({ kind: 'error', message: expect.stringMatching(/session .* left the daemon \(purged\)/) });
    await expectDaemonError(c.getSessionObserverStatus(ref(s.sessionId, id)), StatusCode.STATUS_CODE_NOT_FOUND, /no PIPE session/);
  });

});

describe('session observers: bad input', () => {
  it('REGISTER: every bad field is INVALID_ARGUMENT naming it, checked before the session is looked up', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const BAD = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    const reg = (fields: Record<string, unknown>) => c.request(78, 'registerSessionObserver', { sessionId: s.sessionId, sessionKind: 2, ...fields });
    await expectDaemonError(reg({ sessionId: '' }), BAD, /session_id must not be empty/);
    await expectDaemonError(reg({ sessionKind: 0 }), BAD, /session_kind must be .*OBSERVER_SESSION_KIND_UNSPECIFIED \(0\)/);
    await expectDaemonError(reg({ sessionKind: 9 }), BAD, /session_kind .*got 9/);
    await expectDaemonError(reg({ categories: [0, 7] }), BAD, /invalid observer category 7/);
    await expectDaemonError(reg({ ringCapacityEvents: 65537 }), BAD, /ring_capacity_events must be at most 65536.*got 65537/);
    await expectDaemonError(reg({ backpressure: 5 }), BAD, /backpressure must be .*got 5/);
    for (const sessionId of ['no-such-session', s.sessionId]) {
      await expectDaemonError(reg({ sessionId, categories: [7] }), BAD, /invalid observer category 7/);
    }
    // Categories this daemon cannot observe are refused clearly, never accepted silently.
    await expectDaemonError(reg({ categories: [1] }), StatusCode.STATUS_CODE_UNIMPLEMENTED, /OBSERVER_EVENT_CATEGORY_FILE \(1\) is not observed by this daemon/);
    await expectDaemonError(reg({ categories: [0, 1, 2, 3] }), StatusCode.STATUS_CODE_UNIMPLEMENTED, /FILE \(1\) and OBSERVER_EVENT_CATEGORY_NETWORK \(2\) are not observed/);
    // Well-formed, but no such session (or not of that kind): NOT_FOUND, as in the reference.
    await expectDaemonError(reg({ sessionId: 'no-such-session' }), StatusCode.STATUS_CODE_NOT_FOUND, /no PIPE session with id "no-such-session"/);
    await expectDaemonError(reg({ sessionKind: 1 }), StatusCode.STATUS_CODE_NOT_FOUND, /no PTY session .*it is a PIPE session/);
    // Bounded: at most 16 subscriptions per session.
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push(await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe', capacity: 4 }));
    expect(new Set(ids).size).toBe(16);
    await expectDaemonError(reg({}), StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, /already has 16 observers/);
    await c.unregisterSessionObserver(ref(s.sessionId, ids[0]));
    await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    // No payload at all means the all-default payload: an empty session_id.
    expect((await c.send(78, null, null)).code).toBe(BAD);
    await c.writeStdin(s.sessionId, 'go\n');
  });

  it('UNREGISTER, GET_STATUS and STREAM: bad ids and kinds INVALID_ARGUMENT, unknown ones NOT_FOUND', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await gated(c, 'exit 0');
    const id = await c.registerSessionObserver({ sessionId: s.sessionId, sessionKind: 'pipe' });
    const BAD = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    const NF = StatusCode.STATUS_CODE_NOT_FOUND;
    const calls: Array<(f: Record<string, unknown>) => Promise<unknown>> = [
      (f) => c.request(79, 'unregisterSessionObserver', { sessionId: s.sessionId, sessionKind: 2, subscriberId: id, ...f }),
      (f) => c.request(80, 'getSessionObserverStatus', { sessionId: s.sessionId, sessionKind: 2, subscriberId: id, ...f }),
      (f) => c.openStream(1090, 'streamSessionObserver', { sessionId: s.sessionId, sessionKind: 2, subscriberId: id, ...f }),
    ];
    for (const call of calls) {
      await expectDaemonError(call({ sessionId: '' }), BAD, /session_id must not be empty/);
      await expectDaemonError(call({ sessionKind: 0 }), BAD, /session_kind must be/);
      await expectDaemonError(call({ subscriberId: '' }), BAD, /subscriber_id must not be empty/);
      await expectDaemonError(call({ sessionId: 'nope', subscriberId: '' }), BAD, /subscriber_id must not be empty/);
      await expectDaemonError(call({ sessionId: 'nope' }), NF, /no PIPE session with id "nope"/);
      await expectDaemonError(call({ sessionKind: 1 }), NF, /it is a PIPE session/);
      await expectDaemonError(call({ subscriberId: 'not-a-subscriber' }), NF, /has no observer with subscriber_id "not-a-subscriber"/);
    }
    for (const type of [79, 80]) expect((await c.send(type, null, null)).code).toBe(BAD);
    // The subscription is untouched by all of it.
    expect(await c.getSessionObserverStatus(ref(s.sessionId, id))).toMatchObject({ missedEvents: 0, pendingEvents: 0 });
    await c.writeStdin(s.sessionId, 'go\n');
  });
});

/** The first child of pid (from /proc), or 0. */
function childOf(pid: number): number {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length > 0 ? Number(kids[0]) : 0;
  } catch {
    return 0;
  }
}

/** Waits until pid sleeps with its written-bytes count unchanged over a few polls (blocked on a full pipe). */
async function waitBlockedOnWrite(pid: number): Promise<void> {
  let last = -1;
  let same = 0;
  await waitFor(() => {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    const wchar = Number(/wchar: (\d+)/.exec(io)![1]);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    same = wchar === last && wchar > 0 && state === 'S' ? same + 1 : 0;
    last = wchar;
    return same >= 5;
  }, `pid ${pid} blocked writing`, 10_000, 20);
}
