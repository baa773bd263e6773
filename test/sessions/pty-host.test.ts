// PtyHost against real children: no output tail is lost when a fast writer exits (node-pty alone
// loses it here, see docs/notes/node-pty-tail-loss.md), exit codes and signals, input, resize.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PtyHost, readForegroundPgid, type PtyExit } from '../../src/sessions/pty-host';
import { waitFor } from '../helpers/daemon';

const live: PtyHost[] = [];
let dir = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ptyhost-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const h of live.splice(0)) if (!h.exited) h.kill('SIGKILL');
});

interface Run {
  out: Buffer;
  exit: PtyExit;
  /** Whether any data arrived after the exit was reported (must never happen). */
  lateData: boolean;
}

function runPty(argv: string[], opts: { rows?: number; cols?: number; onStart?: (h: PtyHost) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let exit: PtyExit | null = null;
    let lateData = false;
    const host = PtyHost.spawn(
      { file: argv[0], args: argv.slice(1), cwd: dir, env: { ...process.env, TERM: 'xterm-256color' } as Record<string, string>, rows: opts.rows ?? 24, cols: opts.cols ?? 80 },
      {
        onData: (c) => (exit ? (lateData = true) : chunks.push(c)),
        onExit: (e) => {
          exit = e;
          // Let a late 'data' show itself before resolving.
          setImmediate(() => resolve({ out: Buffer.concat(chunks), exit: e, lateData }));
        },
      },
    );
    live.push(host);
    opts.onStart?.(host);
  });
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('PtyHost drains the master before reporting exit', () => {
  it('cat of a 20 MB file in raw mode arrives byte-exact, 20 runs', async () => {
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, crypto.randomBytes(20_000_000));
    const want = sha256(fs.readFileSync(file));
    const shortRuns: number[] = [];
    for (let i = 0; i < 20; i++) {
      // stty raw: no \n → \r\n translation, so the output must equal the file exactly.
      const r = await runPty(['sh', '-c', `stty raw -echo; exec cat ${file}`]);
      expect(r.exit).toEqual({ exitCode: 0, signal: null });
      expect(r.lateData).toBe(false);
      if (r.out.length !== 20_000_000) shortRuns.push(20_000_000 - r.out.length);
      else expect(sha256(r.out)).toBe(want);
    }
    expect(shortRuns).toEqual([]);
    // 400 MB through a PTY: about 10 s on a quiet machine, over the default 60 s on a shared box
    // (load ~20 on 2 cores); a correctness test, not a timed one, so the deadline is generous.
  }, 240_000);

  it('head -c 1000000 /dev/urandom | base64 arrives whole, 20 runs', async () => {
    for (let i = 0; i < 20; i++) {
      const copy = path.join(dir, `b64-${i}.txt`);
      const r = await runPty(['sh', '-c', `head -c 1000000 /dev/urandom | base64 | tee ${copy}`]);
      expect(r.exit.exitCode).toBe(0);
      // The PTY's output processing turns \n into \r\n; base64 text holds no \r of its own.
      const got = r.out.toString('latin1').replace(/\r\n/g, '\n');
      const source = fs.readFileSync(copy, 'latin1');
      expect(got.length).toBe(source.length);
      expect(got === source).toBe(true);
    }
  });
});

describe('PtyHost paused across the exit (lossless readers, BLOCK tees)', () => {
  it('loses nothing when the child exits while reading is paused: node-pty destroys the stream after 200 ms, the hook drains it first, 10 runs', async () => {
    for (let i = 0; i < 10; i++) {
      const copy = path.join(dir, `paused-${i}.bin`);
      // 3 KB fit the kernel's PTY queue and the stream's buffer, so the child exits while nothing reads.
      const r = await runPty(['sh', '-c', `stty raw -echo; head -c 3000 /dev/urandom | tee ${copy}`], { onStart: (h) => h.pause() });
      expect(r.exit.exitCode).toBe(0);
      expect(r.lateData).toBe(false);
      const source = fs.readFileSync(copy);
      expect(r.out.length).toBe(source.length);
      expect(r.out.equals(source)).toBe(true);
    }
  });
});

describe('PtyHost basics', () => {
  it('reports exit codes and signals', async () => {
    expect((await runPty(['sh', '-c', 'exit 7'])).exit).toEqual({ exitCode: 7, signal: null });
    const killed = await runPty(['sh', '-c', 'kill -TERM $$']);
    expect(killed.exit).toEqual({ exitCode: -15, signal: 15 });
  });

  it('passes input through and reports the size it was given', async () => {
    let host: PtyHost | null = null;
    const done = runPty(['sh', '-c', 'stty size; read line; echo "got:$line"'], { rows: 30, cols: 100, onStart: (h) => (host = h) });
    host!.write('hello\r');
    const r = await done;
    const text = r.out.toString();
    expect(text).toContain('30 100');
    expect(text).toContain('got:hello');
  });

  it('resizes a running terminal', async () => {
    let host: PtyHost | null = null;
    const done = runPty(['sh', '-c', 'read a; stty size'], { onStart: (h) => (host = h) });
    host!.resize(40, 120);
    expect(host!.rows).toBe(40);
    host!.write('\r');
    expect((await done).out.toString()).toContain('40 120');
  });

  it('signals the foreground process group, not just the shell', async () => {
    let host: PtyHost | null = null;
    const done = runPty(['bash', '--norc', '--noprofile', '-i'], { onStart: (h) => (host = h) });
    const h = host!;
    // bash -i runs `sleep` as its own foreground job: the terminal's tpgid moves to sleep's group.
    h.write('sleep 100\r');
    // Wait for sleep itself (not bash's child before its exec, which may swallow an early SIGINT).
    const comm = (p: number) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
    await waitFor(() => readForegroundPgid(h.pid) > 0 && comm(readForegroundPgid(h.pid)) === 'sleep', 'sleep in the foreground');
    h.signalForeground('SIGINT');
    await waitFor(() => readForegroundPgid(h.pid) === h.pid, 'bash back in the foreground');
    // An interactive bash abandons a command list on SIGINT: ask for the status separately.
    h.write('echo "after:$?"; exit 3\r');
    const r = await done;
    expect(r.out.toString()).toContain('after:130');
    expect(r.exit.exitCode).toBe(3);
  });

  it('reads no foreground group for a pid that does not exist', () => {
    expect(readForegroundPgid(0x7ffffff0)).toBe(-1);
  });
});
