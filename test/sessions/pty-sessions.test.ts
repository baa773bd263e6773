// Black-box tests of PTY sessions through the real daemon and client: shell I/O, sizes, interrupt,
// raw escape sequences, attach/steal/detach rules, screen replay, no tail loss, bad inputs.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { RawConnection } from '../helpers/raw';
import '../../src/client/events-api';
import '../../src/client/sessions-api';
import '../../src/client/pty-api';
import type { PtyAttachment, PtyFrame } from '../../src/client/pty-api';
import { expectDaemonError } from './helpers';

let daemon: TestDaemon | null = null;
let tmp: string | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
});

const BASH = ['bash', '--norc', '--noprofile', '-i'];

/** Reads frames into a growing text, so tests can wait for what the terminal shows. */
class Reader {
  text = '';
  bytes: Buffer[] = [];
  terminal: PtyFrame | null = null;
  missed = 0;
  readonly done: Promise<void>;
  constructor(readonly att: PtyAttachment) {
    this.push(att.backlog);
    this.done = (async () => {
      for await (const f of att) {
        if (f.kind === 'output') this.push(f.data);
        else if (f.kind === 'missed') this.missed += f.bytes;
        else this.terminal = f;
      }
    })();
  }
  private push(b: Buffer): void {
    this.bytes.push(b);
    this.text += b.toString('latin1');
  }
  waitText(re: RegExp, what: string): Promise<RegExpMatchArray> {
    return waitFor(() => this.text.match(re), what);
  }
}

describe('PTY sessions: a shell', () => {
  it('runs bash: echo hi shows hi, and the session outlives the attaching client', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId, pid } = await c.spawnPty({ argv: BASH });
    expect(pid).toBeGreaterThan(0);
    const other = await daemon.connect();
    const r = new Reader(await other.attachPty(sessionId));
    r.att.write('echo h""i\r');
    await r.waitText(/[\r\n]hi\r\n/, 'hi from bash');
    // The attaching client goes away entirely: the session keeps running and can be re-attached.
    r.att.close();
    other.close();
    await r.done;
    await waitFor(async () => !(await c.listPtys())[0]!.attached, 'the attachment released');
    const info = (await c.listPtys())[0]!;
    expect(info).toMatchObject({ sessionId, exited: false, rows: 24, cols: 80 });
    const again = new Reader(await c.attachPty(sessionId, { replay: 'ring' }));
    expect(again.text).toContain('hi');
    again.att.write('exit 4\r');
    await again.done;
    expect(again.terminal).toEqual({ kind: 'exit', code: 4 });
    expect((await c.listPtys())[0]).toMatchObject({ exited: true, exitCode: 4 });
  });

  it('sets TERM to xterm-256color and the size from an is_tty attach (tput lines/cols)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH });
    const graphics = { protocols: [{ protocol: 2 /* KITTY */, source: 'test', risks: ['none'] }], preferred: 2 };
    const r = new Reader(await c.attachPty(sessionId, { isTty: true, rows: 30, cols: 100, term: 'xterm-kitty', graphicsCapabilities: graphics }));
    r.att.write('echo "T=$TERM L=$(tput lines) C=$(tput cols)"\r');
    await r.waitText(/T=xterm-256color L=30 C=100/, 'tput output');
    const info = (await c.listPtys())[0]!;
    expect(info).toMatchObject({ rows: 30, cols: 100, attached: true, attachedIsTty: true, attachedTerm: 'xterm-kitty' });
    expect(info.attachedGraphicsCapabilities).toMatchObject({ preferred: 2, protocols: [{ protocol: 2, source: 'test', risks: ['none'] }] });
    // A resize frame from a TTY client applies; ResizePtySession with 0 keeps a dimension.
    r.att.resize(40, 120);
    await waitFor(async () => (await c.listPtys())[0]!.rows === 40, 'resize frame applied');
    await c.resizePty(sessionId, 0, 90);
    expect((await c.listPtys())[0]).toMatchObject({ rows: 40, cols: 90 });
    r.att.write('echo "L=$(tput lines) C=$(tput cols)"\r');
    await r.waitText(/L=40 C=90/, 'the new size inside');
    await c.terminatePty(sessionId, 500);
    await r.done;
  });

  it('never resizes for a non-TTY client', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH, rows: 20, cols: 70 });
    const r = new Reader(await c.attachPty(sessionId, { isTty: false, rows: 30, cols: 100 }));
    r.att.resize(50, 150);
    r.att.write('echo "S=$(stty size)"\r');
    await r.waitText(/S=20 70/, 'the spawn size kept');
    expect((await c.listPtys())[0]).toMatchObject({ rows: 20, cols: 70, attachedIsTty: false });
    await c.terminatePty(sessionId, 500);
    await r.done;
  });

  it('interrupts a foreground sleep 100 with SIGINT to its process group', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId, pid } = await c.spawnPty({ argv: BASH });
    const r = new Reader(await c.attachPty(sessionId));
    r.att.write('sleep 100\r');
    const tpgid = () => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[5]);
    // Wait for sleep itself (not bash's child before its exec, which may swallow an early SIGINT).
    const comm = (p: number) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
    await waitFor(() => tpgid() !== pid && comm(tpgid()) === 'sleep', 'sleep in the foreground');
    r.att.interrupt();
    await waitFor(() => tpgid() === pid, 'bash back in the foreground');
    r.att.write('echo "status=$?"\r');
    await r.waitText(/status=130/, 'the interrupted status');
    await c.terminatePty(sessionId, 500);
    await r.done;
  });

  it('delivers a TUI\'s escape sequences raw', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'printf "\\033[2J\\033[H\\033[1;31mTUI\\033[0m"; sleep 0.2'] });
    const r = new Reader(await c.attachPty(sessionId, { replay: 'ring' }));
    await r.done;
    expect(Buffer.concat(r.bytes).toString('latin1')).toContain('\x1b[2J\x1b[H\x1b[1;31mTUI\x1b[0m');
    expect(r.terminal).toEqual({ kind: 'exit', code: 0 });
  });
});

describe('PTY sessions: attach rules', () => {
  it('refuses a second attach, lets steal take over, and detaches by frame and by request', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH });
    const first = new Reader(await c.attachPty(sessionId));
    await expectDaemonError(c.attachPty(sessionId), StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already attached/);
    const c2 = await daemon.connect({ clientName: 'stealer' });
    const second = new Reader(await c2.attachPty(sessionId, { steal: true }));
    await first.done;
    expect(first.terminal).toMatchObject({ kind: 'stolen', by: expect.stringMatching(/^stealer/) });
    // Input from the evicted client is dropped; the stealer still drives and sees the shell.
    first.att.write('echo EVICTED\r');
    second.att.write('echo STE""ALER\r');
    await second.waitText(/STEALER/, 'the stealer\'s output');
    expect(second.text).not.toContain('EVICTED\r\n');
    second.att.detach();
    await second.done;
    expect(second.terminal).toEqual({ kind: 'detached' });
    // DetachPtySession releases whoever is attached; the session keeps running.
    const third = new Reader(await c.attachPty(sessionId));
    await c.detachPty(sessionId);
    await third.done;
    expect(third.terminal).toEqual({ kind: 'detached' });
    expect((await c.listPtys())[0]).toMatchObject({ exited: false, attached: false });
    await c.terminatePty(sessionId, 500);
  });

  it('a refused attach (ALREADY_ATTACHED) leaves the attached client\'s terminal size alone, in every replay mode', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH, rows: 30, cols: 100 });
    const first = new Reader(await c.attachPty(sessionId, { isTty: true, rows: 30, cols: 100 }));
    for (const replay of ['missed', 'ring', 'screen'] as const) {
      await expectDaemonError(c.attachPty(sessionId, { isTty: true, rows: 10, cols: 20, replay }),
        StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already attached/);
      expect((await c.listPtys())[0]).toMatchObject({ rows: 30, cols: 100, attached: true });
    }
    // The attached client's shell still sees its own size.
    first.att.write('echo "size=$(tput lines)x$(tput cols)"\r');
    await first.waitText(/size=30x100/, 'the attached client\'s size');
    // A steal does resize: the stealer's terminal is the one shown from then on.
    const second = new Reader(await c.attachPty(sessionId, { isTty: true, rows: 12, cols: 40, steal: true }));
    await first.done;
    expect((await c.listPtys())[0]).toMatchObject({ rows: 12, cols: 40 });
    second.att.detach();
    await second.done;
  });

  it('spawns attached in one request: every byte from the first, input, the attach slot held, the exit', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // The child prints at once: attached from the spawn on, nothing is missed and nothing is replayed twice.
    const quick = await c.spawnPtyAttached({ argv: ['sh', '-c', 'printf FIRST; exit 3'] });
    expect(quick.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(quick.pid).toBeGreaterThan(0);
    const quickReader = new Reader(quick.attachment);
    await quickReader.done;
    expect(quickReader.text).toBe('FIRST');
    expect(quickReader.missed).toBe(0);
    expect(quickReader.terminal).toEqual({ kind: 'exit', code: 3 });

    const { sessionId, attachment } = await c.spawnPtyAttached({ argv: BASH, rows: 30, cols: 100 }, { isTty: true, rows: 40, cols: 120 });
    const shell = new Reader(attachment);
    // The spawn's attachment holds the slot like any attach.
    await expectDaemonError(c.attachPty(sessionId), StatusCode.STATUS_CODE_ALREADY_ATTACHED, /already attached/);
    expect((await c.listPtys()).find((s) => s.sessionId === sessionId)).toMatchObject({ attached: true, attachedIsTty: true, rows: 40, cols: 120 });
    shell.att.write('echo SPAWNED""ATTACHED\r');
    await shell.waitText(/SPAWNEDATTACHED/, 'the shell\'s echo');
    shell.att.write('exit 5\r');
    await shell.done;
    expect(shell.terminal).toEqual({ kind: 'exit', code: 5 });
  });

  it('a client that leaves while its screen replay is being rendered never holds the session', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // ~1 MB of text, then a line every 10 ms: the screen stays unparsed (it parses after 50 ms of
    // quiet), so the SCREEN attach below spends its time rendering and the client is gone by then.
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'head -c 700000 /dev/zero | base64; while :; do echo tick; sleep 0.01; done'] });
    await waitFor(async () => (await c.backlog(sessionId)).backlog.length > 900_000, 'the burst in the ring');
    const events = await c.subscribeEvents({ kinds: ['session.attached', 'session.detached', 'session.stolen'] });
    const seen: string[] = [];
    void (async () => {
      for await (const e of events) if (e.sessionId === sessionId) seen.push(`${e.kind} ${e.detail}`);
    })();
    const raw = await RawConnection.open(daemon.paths.socketPath);
    raw.sendRequest({ id: 1, type: RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION, protocolVersion: 1, clientName: 'leaver',
      attachPtySession: { sessionId, replay: pb.PtyReplayMode.PTY_REPLAY_MODE_SCREEN } });
    raw.close();
    // Screen renderings run one after another: this attach (no steal) is answered after the leaver's
    // was decided, and it would be refused ALREADY_ATTACHED had the leaver taken the slot.
    const next = new Reader(await c.attachPty(sessionId, { replay: 'screen' }));
    await next.waitText(/tick/, 'live output for the next client');
    await waitFor(() => seen.length > 0, 'the attach event');
    expect(seen).toEqual([expect.stringMatching(/^session\.attached .*: replay screen$/)]);
    events.close();
    next.att.close();
    await c.terminatePty(sessionId, 200);
  });

  it('a client gone before its stealing SCREEN attach was ready steals nothing', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'head -c 700000 /dev/zero | base64; while :; do echo tick; sleep 0.01; done'] });
    await waitFor(async () => (await c.backlog(sessionId)).backlog.length > 900_000, 'the burst in the ring');
    const owner = new Reader(await c.attachPty(sessionId));
    const raw = await RawConnection.open(daemon.paths.socketPath);
    raw.sendRequest({ id: 1, type: RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION, protocolVersion: 1, clientName: 'ghost',
      attachPtySession: { sessionId, steal: true, replay: pb.PtyReplayMode.PTY_REPLAY_MODE_SCREEN } });
    raw.close();
    // Screen renderings run one after another: once this steal (made after the ghost's) is answered,
    // the ghost's attach has been decided.
    const c2 = await daemon.connect({ clientName: 'heir' });
    const heir = new Reader(await c2.attachPty(sessionId, { steal: true, replay: 'screen' }));
    await owner.done;
    expect(owner.terminal).toMatchObject({ kind: 'stolen', by: expect.stringMatching(/^heir/) });
    await heir.waitText(/tick/, 'live output for the heir');
    expect((await c.listPtys())[0]).toMatchObject({ attached: true });
    heir.att.close();
    await c.terminatePty(sessionId, 200);
  });

  it('replays what a client missed by default, the ring on request, and the screen', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'printf "one\\n"; read x; printf "\\033[2J\\033[Htwo"; read y'], rows: 5, cols: 20 });
    const a = new Reader(await c.attachPty(sessionId));
    await a.waitText(/one/, 'first output');
    a.att.write('\r');
    await a.waitText(/two/, 'second output');
    a.att.detach();
    await a.done;
    const missed = await c.attachPty(sessionId);
    expect(missed.backlog.length).toBe(0);
    missed.detach();
    for await (const _ of missed) { /* until detached */ }
    const ring = await c.attachPty(sessionId, { replay: 'ring' });
    expect(ring.backlog.toString()).toMatch(/one[\s\S]*two/);
    ring.detach();
    for await (const _ of ring) { /* until detached */ }
    const screen = await c.attachPty(sessionId, { replay: 'screen' });
    const shown = screen.backlog.toString();
    expect(shown).toContain('\x1b[H\x1b[2J');
    expect(shown).toContain('two');
    expect(shown).not.toContain('one');
    screen.write('\r');
    const r = new Reader(screen);
    await r.done;
    expect(r.terminal).toEqual({ kind: 'exit', code: 0 });
  });

  it('counts and ignores undecodable input frames', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH });
    const r = new Reader(await c.attachPty(sessionId));
    r.att.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0x0f]));
    r.att.write('echo st""ill-here\r');
    await r.waitText(/still-here/, 'input after the bad frame');
    await waitFor(() => fs.readFileSync(daemon!.paths.daemonLogPath, 'utf8').includes('ignored an undecodable input frame'), 'the log line');
    await c.terminatePty(sessionId, 500);
    await r.done;
  });
});

describe('PTY sessions: slow clients, termination, generic requests', () => {
  it('a client that does not read never slows the session: it gets missed_bytes, then the exit', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptyslow-'));
    const file = path.join(tmp, 'big.bin');
    fs.writeFileSync(file, randomBytes(20_000_000));
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', `stty raw -echo; read go; exec cat ${file}`] });
    const att = await c.attachPty(sessionId);
    att.write('go\n');
    // Nobody reads the attachment: the session still runs to its end.
    await waitFor(async () => (await c.listPtys())[0]!.exited, 'the session to finish without a reader', 15_000);
    const r = new Reader(att);
    await r.done;
    expect(r.missed).toBeGreaterThan(0);
    expect(Buffer.concat(r.bytes).length + r.missed).toBeGreaterThanOrEqual(20_000_000);
    expect(r.terminal).toEqual({ kind: 'exit', code: 0 });
  });

  it('input for a child that does not read is held back, never buffered without bound in the daemon', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'stty raw -echo; printf R; exec sleep 100'] });
    await waitFor(async () => (await c.backlog(sessionId)).backlog.toString().includes('R'), 'raw mode set');
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${daemon!.pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    const att = await c.attachPty(sessionId);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 1024; i++) att.write(chunk); // 64 MiB the child never reads
    // Give the daemon time to take in all it is willing to: its socket stops being read at 1 MiB.
    await waitFor(async () => (await c.listPtys())[0]!.attached, 'attached');
    // Wait until the daemon took in all it will (its RSS stops moving), then measure.
    let last = rss();
    await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 50)); // poll: compare RSS samples until stable
      const now = rss();
      const stable = Math.abs(now - last) < 512 * 1024;
      last = now;
      return stable;
    }, 'daemon memory to settle', 15_000);
    // Measured: +10 MiB (decode garbage not yet collected) whether 16 or 64 MiB were sent.
    expect(rss() - before).toBeLessThan(32 * 1024 * 1024);
    // The daemon still serves, and the session can be ended.
    await c.terminatePty(sessionId, 200);
    const r = new Reader(att);
    await r.done;
    expect(r.terminal?.kind).toBe('exit');
  });

  it('terminate hangs up an interactive shell, which ignores SIGTERM (SOFT_EXIT)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: BASH });
    // Once the prompt is up, bash has its signal handling in place.
    await waitFor(async () => (await c.backlog(sessionId)).backlog.toString().includes('$ ') || (await c.backlog(sessionId)).backlog.toString().includes('# '), 'the prompt');
    await c.terminatePty(sessionId, 5000);
    await waitFor(async () => (await c.listPtys())[0]!.exited, 'bash to exit');
    const info = (await c.listPtys())[0]!;
    expect(info.terminationOutcome).toBe(2 /* SOFT_EXIT */);
    expect(info).toMatchObject({ exitCode: 129, signal: 'SIGHUP' });
  });

  it('terminate escalates to SIGKILL for a child that ignores hangup and SIGTERM (HARD_KILLED)', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', 'trap "" HUP TERM; echo ready; while :; do sleep 0.05; done'] });
    await waitFor(async () => (await c.backlog(sessionId)).backlog.toString().includes('ready'), 'the traps set');
    await c.terminatePty(sessionId, 200);
    await waitFor(async () => (await c.listPtys())[0]!.exited, 'the hard kill');
    const info = (await c.listPtys())[0]!;
    expect(info.terminationOutcome).toBe(3 /* HARD_KILLED */);
    expect(info).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('backlog, purge and bulk terminate cover PTY sessions', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const done = await c.spawnPty({ argv: ['sh', '-c', 'echo finished'], originator: 'o1' });
    const live = await c.spawnPty({ argv: ['sleep', '100'], originator: 'o1' });
    const b = await waitFor(async () => {
      const r = await c.backlog(done.sessionId);
      return r.exited ? r : null;
    }, 'the first to exit');
    expect(b.sessionKind).toBe('pty');
    expect(Buffer.from(b.backlog).toString()).toBe('finished\r\n');
    expect(await c.bulkTerminate({ originator: 'o1', graceMs: 200 })).toMatchObject({ ptyTerminated: 1, pipeTerminated: 0 });
    await waitFor(async () => (await c.listPtys()).every((s) => s.exited), 'both exited');
    expect(await c.purge('o1')).toMatchObject({ ptyPurged: 2, pipePurged: 0 });
    expect(await c.listPtys()).toEqual([]);
    await expectDaemonError(c.attachPty(live.sessionId), StatusCode.STATUS_CODE_NOT_FOUND, /no pty session/);
  });
});

describe('PTY sessions: no tail loss', () => {
  it('has every byte of a fast large write in the ring before the exit is reported, 10 runs', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(8 * 1024 * 1024)] });
    const c = daemon.client;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptytail-'));
    const file = path.join(tmp, 'src.bin');
    fs.writeFileSync(file, randomBytes(5_000_000));
    const want = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    for (let i = 0; i < 10; i++) {
      const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', `stty raw -echo; exec cat ${file}`] });
      const r = new Reader(await c.attachPty(sessionId, { replay: 'ring' }));
      await r.done;
      expect(r.terminal).toEqual({ kind: 'exit', code: 0 });
      const got = Buffer.concat(r.bytes);
      expect(r.missed).toBe(0);
      expect(got.length).toBe(5_000_000);
      expect(createHash('sha256').update(got).digest('hex')).toBe(want);
      expect((await c.backlog(sessionId)).exited).toBe(true);
    }
  });

  it('head -c 1000000 /dev/urandom | base64: the whole output is in the ring at exit, 10 runs', async () => {
    daemon = await startDaemon({ args: ['--ring-bytes', String(4 * 1024 * 1024)] });
    const c = daemon.client;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptytail-'));
    for (let i = 0; i < 10; i++) {
      const copy = path.join(tmp, `b64-${i}`);
      const { sessionId } = await c.spawnPty({ argv: ['sh', '-c', `head -c 1000000 /dev/urandom | base64 | tee ${copy}`] });
      const b = await waitFor(async () => {
        const r = await c.backlog(sessionId);
        return r.exited ? r : null;
      }, 'the exit');
      expect(b.exitCode).toBe(0);
      expect(Buffer.from(b.backlog).toString('latin1').replace(/\r\n/g, '\n') === fs.readFileSync(copy, 'latin1')).toBe(true);
    }
  });
});

describe('PTY sessions: bad inputs', () => {
  it('rejects bad spawn requests naming the problem', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const bad = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    await expectDaemonError(c.spawnPty({ argv: [] }), bad, /argv must not be empty/);
    await expectDaemonError(c.spawnPty({ argv: [''] }), bad, /argv\[0\]/);
    await expectDaemonError(c.spawnPty({ argv: ['no-such-program-xyz'] }), StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, /^no-such-program-xyz: command not found$/);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptybad-'));
    const plain = path.join(tmp, 'plain.txt');
    fs.writeFileSync(plain, 'not a program', { mode: 0o644 });
    await expectDaemonError(c.spawnPty({ argv: [plain] }), StatusCode.STATUS_CODE_COMMAND_NOT_EXECUTABLE, new RegExp(`^${plain}: Permission denied$`));
    await expectDaemonError(c.spawnPty({ argv: ['sh'], cwd: '/no/such/dir' }), bad, /cwd "\/no\/such\/dir" does not exist/);
    await expectDaemonError(c.spawnPty({ argv: ['sh'], cwd: plain }), bad, /is not a directory/);
    await expectDaemonError(c.spawnPty({ argv: ['sh'], rows: 70000 }), bad, /rows must be between 0 and 65535, got 70000/);
    await expectDaemonError(c.spawnPty({ argv: ['sh'], env: [{ key: 'A=B', value: '1' }] }), bad, /"A=B"/);
    // Spawning attached: the attach options are checked before anything is spawned.
    await expectDaemonError(c.spawnPtyAttached({ argv: ['sh'] }, { rows: 70000 }), bad, /attach\.rows must be between 0 and 65535, got 70000/);
    await expectDaemonError(c.spawnPtyAttached({ argv: ['no-such-program-xyz'] }), StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, /no-such-program-xyz: command not found/);
    const { RequestType } = await import('../../src/wire/proto');
    const spawnAttached = (attach: Record<string, unknown>) =>
      c.openStream(RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', { argv: ['sh'], attach });
    await expectDaemonError(spawnAttached({ sessionId: 'x' }), bad, /attach\.session_id must be empty/);
    await expectDaemonError(spawnAttached({ replay: 9 }), bad, /attach\.replay must be MISSED, RING or SCREEN, got 9/);
    // Nothing was spawned, and the client's own connection still answers after the refused streams.
    expect(await c.listPtys()).toEqual([]);
  });

  it('rejects bad attach, detach, terminate, resize and list requests', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const bad = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    const missing = StatusCode.STATUS_CODE_NOT_FOUND;
    const unknown = '00000000-0000-4000-8000-000000000000';
    await expectDaemonError(c.attachPty(''), bad, /session_id is required/);
    await expectDaemonError(c.attachPty(unknown), missing, new RegExp(`no pty session with id "${unknown}"`));
    await expectDaemonError(c.detachPty(''), bad, /session_id is required/);
    await expectDaemonError(c.detachPty(unknown), missing, /no pty session/);
    await expectDaemonError(c.terminatePty(''), bad, /session_id is required/);
    await expectDaemonError(c.terminatePty(unknown), missing, /no pty session/);
    await expectDaemonError(c.resizePty('', 10, 10), bad, /session_id is required/);
    await expectDaemonError(c.resizePty(unknown, 10, 10), missing, /no pty session/);
    const { sessionId } = await c.spawnPty({ argv: BASH });
    await expectDaemonError(c.resizePty(sessionId, 10, 70000), bad, /cols must be between 0 and 65535, got 70000/);
    await expectDaemonError(c.attachPty(sessionId, { rows: 99999 }), bad, /rows must be between/);
    // A wrong enum value for replay.
    const { RequestType } = await import('../../src/wire/proto');
    await expectDaemonError(c.request(RequestType.REQUEST_TYPE_ATTACH_PTY_SESSION, 'attachPtySession', { sessionId, replay: 7 }), bad, /replay must be MISSED, RING or SCREEN, got 7/);
    // A pipe session's id is not a PTY session; a PTY id is not a pipe session.
    const pipe = await c.spawnPipe({ argv: ['sleep', '30'] });
    await expectDaemonError(c.attachPty(pipe.sessionId), missing, /no pty session/);
    await expectDaemonError(c.attachPipe(sessionId), missing, /no pipe session/);
    expect((await c.listPtys('nobody'))).toEqual([]);
    await c.terminate(pipe.sessionId, 200);
    await c.terminatePty(sessionId, 200);
    await waitFor(async () => (await c.listPtys())[0]!.exited, 'the pty session to end');
  });
});
