// `runpm attach` as a person would use it: inside a real terminal (a private tmux server), typing
// with send-keys and reading the screen with capture-pane. Also the non-TTY (piped) attach and the
// PTY halves of run/sessions/output/send/kill/resize.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNPM, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { requireTools } from '../helpers/tmux';
import '../../src/client/pty-api';

let daemon: TestDaemon | null = null;
let tmuxSocket: string | null = null;
let tmp: string | null = null;
let tmuxCount = 0;

afterEach(async () => {
  if (tmuxSocket) spawnSync('tmux', ['-L', tmuxSocket, 'kill-server'], { stdio: 'ignore' });
  tmuxSocket = null;
  await daemon?.stop();
  daemon = null;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
});


function runpm(d: TestDaemon, args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [RUNPM, ...args], { env: d.env, input, encoding: 'utf8', timeout: 15_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** A private tmux server (-L) with one window of 100x30 and no status line. */
function tmux(args: string[]): string {
  return execFileSync('tmux', ['-L', tmuxSocket!, ...args], { encoding: 'utf8' });
}

function startTmux(d: TestDaemon, shellCommand: string): void {
  tmuxSocket = `test-${process.pid}-${++tmuxCount}`;
  const env = Object.entries(d.env).filter(([k]) => k.startsWith('RUNPM_')).map(([k, v]) => `${k}=${v}`);
  execFileSync('tmux', ['-L', tmuxSocket, '-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '100', '-y', '30',
    'env', ...env, 'sh', '-c', shellCommand]);
  tmux(['set-option', '-g', 'status', 'off']);
  tmux(['set-option', '-g', 'remain-on-exit', 'on']);
}

function capture(): string {
  return tmux(['capture-pane', '-p', '-t', 'main']);
}

function paneSize(): { rows: number; cols: number } {
  const [rows, cols] = tmux(['display-message', '-p', '-t', 'main', '#{pane_height} #{pane_width}']).trim().split(' ').map(Number);
  return { rows: rows!, cols: cols! };
}

const attachCmd = (id: string, extra = '') => `${process.execPath} ${RUNPM} attach ${id} ${extra}; echo "attach-exit=$?"; exec sleep 60`;

describe('runpm attach in a real terminal (tmux)', () => {
  it('vim: type, detach with the key, re-attach with screen replay, resize the window, quit', async () => {
    requireTools('tmux', 'vim');
    daemon = await startDaemon();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-vim-'));
    const file = path.join(tmp, 'notes.txt');
    const run = runpm(daemon, ['run', '--pty', '--', 'vim', '-u', 'NONE', '-N', '-n', file]);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();

    startTmux(daemon, attachCmd(id));
    // vim's empty-buffer tildes (its "notes.txt" [New] message goes away when it redraws on resize).
    await waitFor(() => (capture().match(/^~\s*$/gm) ?? []).length >= 10, 'vim on screen').catch((err: Error) => {
      throw new Error(`${err.message}; the pane shows:\n${capture()}`);
    });
    await waitFor(async () => {
      const info = (await daemon!.client.listPtys())[0]!;
      const size = paneSize();
      return info.attached && info.attachedIsTty && info.rows === size.rows && info.cols === size.cols;
    }, 'the session sized to the pane');
    tmux(['send-keys', '-t', 'main', 'i', 'hello from a person', 'Escape']);
    await waitFor(() => capture().includes('hello from a person'), 'typed text in vim');

    // Ctrl-\ detaches: the client restores the terminal and says why; the session keeps running.
    tmux(['send-keys', '-t', 'main', '-H', '1c']);
    await waitFor(() => /attach-exit=0/.test(capture()), 'attach to exit 0 after the detach key');
    expect(capture()).toMatch(/detached from session .* keeps running/);
    expect((await daemon.client.listPtys())[0]).toMatchObject({ attached: false, exited: false });

    // Re-attach with screen replay: vim's screen comes back as it was, without vim redrawing.
    tmux(['respawn-pane', '-k', '-t', 'main', 'env', ...Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')).map(([k, v]) => `${k}=${v}`),
      'sh', '-c', attachCmd(id, '--replay screen')]);
    await waitFor(() => capture().includes('hello from a person') && !capture().includes('attach-exit'), 'vim replayed');
    const screen = capture();
    expect(screen).toMatch(/^~\s*$/m);

    // A window resize reaches the session (SIGWINCH → resize frame) and vim redraws at the new size.
    tmux(['resize-window', '-t', 'main', '-x', '120', '-y', '40']);
    await waitFor(async () => {
      const info = (await daemon!.client.listPtys())[0]!;
      const size = paneSize();
      return size.cols === 120 && info.rows === size.rows && info.cols === 120;
    }, 'the session resized with the window');
    await waitFor(() => capture().includes('hello from a person') && capture().split('\n').length >= 39, 'vim redrawn at 120x40');

    // Quit vim: the attach ends with the child's exit code and restores the terminal.
    tmux(['send-keys', '-t', 'main', 'Escape', ':q!', 'Enter']);
    await waitFor(() => /attach-exit=0/.test(capture()), 'attach to exit with vim');
    expect(capture()).toMatch(/exited with code 0/);
    expect((await daemon.client.listPtys())[0]).toMatchObject({ exited: true, exitCode: 0 });
  });

  it('exits with the child\'s exit code and restores the terminal when stolen or signalled', async () => {
    requireTools('tmux', 'bash');
    daemon = await startDaemon();
    const id = runpm(daemon, ['run', '--pty', '--', 'bash', '--norc', '--noprofile', '-i']).stdout.trim();
    startTmux(daemon, attachCmd(id));
    await waitFor(async () => (await daemon!.client.listPtys())[0]!.attached, 'attached');
    // A steal from another client: this one prints who took over and exits 1.
    const thief = await daemon.connect({ clientName: 'thief' });
    const att = await thief.attachPty(id, { steal: true });
    await waitFor(() => /attach-exit=1/.test(capture()), 'the stolen client to exit');
    expect(capture()).toMatch(/taken over by thief/);
    att.detach();
    for await (const _ of att) { /* until detached */ }
    // SIGTERM to the attaching client: it restores the terminal and exits 143; the session lives on.
    tmux(['respawn-pane', '-k', '-t', 'main', 'env', ...Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')).map(([k, v]) => `${k}=${v}`),
      'sh', '-c', `${process.execPath} ${RUNPM} attach ${id} & echo "client=$!"; wait $!; echo "attach-exit=$?"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; exec sleep 60`]);
    const pid = Number((await waitFor(() => capture().match(/client=(\d+)/), 'client pid'))[1]);
    await waitFor(async () => (await daemon!.client.listPtys())[0]!.attached, 'attached again');
    process.kill(pid, 'SIGTERM');
    await waitFor(() => /attach-exit=143/.test(capture()), 'the signalled client to exit 143');
    expect(capture()).toMatch(/SIGTERM received; detached/);
    // The terminal is back in canonical mode (raw mode undone).
    expect(capture()).toMatch(/^icanon$/m);
    expect((await daemon.client.listPtys())[0]).toMatchObject({ exited: false });
    // Child exit code: exit 7 inside the session becomes runpm attach's exit code.
    tmux(['respawn-pane', '-k', '-t', 'main', 'env', ...Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')).map(([k, v]) => `${k}=${v}`),
      'sh', '-c', attachCmd(id)]);
    await waitFor(async () => (await daemon!.client.listPtys())[0]!.attached, 'attached a third time');
    tmux(['send-keys', '-t', 'main', 'exit 7', 'Enter']);
    await waitFor(() => /attach-exit=7/.test(capture()), 'attach to exit 7');

    // The daemon dies under an attached client: it says so, exits 1, and the terminal is restored.
    const { sessionId: id2, pid: pid2 } = await daemon.client.spawnPty({ argv: ['sleep', '100'] });
    tmux(['respawn-pane', '-k', '-t', 'main', 'env', ...Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')).map(([k, v]) => `${k}=${v}`),
      'sh', '-c', `${process.execPath} ${RUNPM} attach ${id2}; echo "attach-exit=$?"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; exec sleep 60`]);
    await waitFor(async () => (await daemon!.client.listPtys()).find((s) => s.sessionId === id2)!.attached, 'attached to the sleep');
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    await waitFor(() => /attach-exit=1/.test(capture()), 'attach to notice the daemon is gone');
    // It says what is known: the daemon died, and the session's process went with its terminal.
    expect(tmux(['capture-pane', '-p', '-J', '-t', 'main'])).toMatch(/runpmd \(pid \d+\) died; session \S+'s terminal closed with it and its process \(pid \d+\) has exited/);
    expect(capture()).toMatch(/^icanon$/m);
    try {
      process.kill(pid2, 'SIGKILL');
    } catch {
      // The hangup from the closed master already ended it.
    }
  });
});

describe('runpm for PTY sessions without a terminal', () => {
  it('run --pty, sessions, send, output, resize, attach through pipes, kill', async () => {
    daemon = await startDaemon();
    const run = runpm(daemon, ['--json', 'run', '--pty', '--rows', '30', '--cols', '100', '--originator', 'cli-test', '--', 'bash', '--norc', '--noprofile', '-i']);
    expect(run.status, run.stderr).toBe(0);
    const rec = JSON.parse(run.stdout) as { sessionId: string; kind: string };
    expect(rec.kind).toBe('pty');
    const id = rec.sessionId;
    const list = runpm(daemon, ['sessions']);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+pty\\s+\\d+\\s+running.*30x100.*cli-test`));
    expect(runpm(daemon, ['send', id, 'echo "size=$(tput lines)x$(tput cols)"\r']).status).toBe(0);
    await waitFor(() => /size=30x100/.test(runpm(daemon!, ['output', id]).stdout), 'output of the sent command');
    expect(runpm(daemon, ['resize', id, '0', '90']).status).toBe(0);
    expect((await daemon.client.listPtys())[0]).toMatchObject({ rows: 30, cols: 90 });
    // Not a TTY: the attach streams, stdin is piped through as input, and it ends with the child.
    const piped = runpm(daemon, ['attach', id], 'echo "piped-in"\rexit 5\r');
    expect(piped.stdout).toContain('piped-in');
    expect(piped.status).toBe(5);
    expect(piped.stderr).toMatch(/exited with code 5/);
    expect(runpm(daemon, ['sessions', '--json']).stdout).toMatch(/"exited": true/);
    // kill covers PTYs; unknown ids fail naming them.
    const id2 = runpm(daemon, ['run', '--pty', '--', 'sleep', '100']).stdout.trim();
    expect(runpm(daemon, ['kill', id2, '--grace', '300']).status).toBe(0);
    await waitFor(async () => (await daemon!.client.listPtys()).find((s) => s.sessionId === id2)!.exited, 'sleep killed');
    const bad = runpm(daemon, ['attach', 'nope']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no pty session with id "nope"/);
    expect(runpm(daemon, ['attach', id, '--detach-key', 'abc']).stderr).toMatch(/--detach-key expects/);
    expect(runpm(daemon, ['attach', id, '--replay', 'all']).stderr).toMatch(/--replay must be missed, ring or screen/);
    expect(runpm(daemon, ['run', '--pty', '--rows', 'x', '--', 'sh']).stderr).toMatch(/--rows must be an integer/);
  });

  it('the attaching process can die; the session outlives it', async () => {
    daemon = await startDaemon();
    const id = runpm(daemon, ['run', '--pty', '--', 'bash', '--norc', '--noprofile', '-i']).stdout.trim();
    const child = spawn(process.execPath, [RUNPM, 'attach', id], { env: daemon.env, stdio: ['pipe', 'pipe', 'pipe'] });
    await waitFor(async () => (await daemon!.client.listPtys())[0]!.attached, 'attached');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await waitFor(async () => !(await daemon!.client.listPtys())[0]!.attached, 'released');
    expect((await daemon.client.listPtys())[0]!.exited).toBe(false);
  });
});
