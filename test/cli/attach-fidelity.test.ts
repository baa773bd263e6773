// `runpm attach` in a real terminal (a pane of a private tmux server), as a tmux user would use it:
// vim with splits, htop, less and bash; what the pane shows (text, and every cell's attributes) and
// its state (scroll region, cursor, alternate screen, keypad, mouse) just before a detach equal what
// a re-attach redraws, the detach puts the pane back as it was before the attach, and a session
// started from the pane has the pane's size.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUNPM, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { TmuxPane, hasTmux } from '../helpers/tmux';
import '../../src/client/pty-api';

let daemon: TestDaemon | null = null;
let pane: TmuxPane | null = null;
let tmp: string | null = null;

afterEach(async () => {
  pane?.kill();
  pane = null;
  await daemon?.stop();
  daemon = null;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
});

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const ROWS = 30;
const COLS = 100;
/** The pane's modes after a detach: as a shell left them. */
const MODES_OFF = { alt: '0', cursor_visible: '1', keypad: '0', cursor_keys: '0', mouse: '000', mouse_sgr: '0', insert: '0', wrap: '1', origin: '0' };

/** A bash in the pane, with $R running this checkout's runpm against the test daemon. */
async function shellPane(d: TestDaemon): Promise<TmuxPane> {
  const env = Object.fromEntries(Object.entries(d.env).filter(([k]) => k.startsWith('RUNPM_')));
  const p = new TmuxPane('exec bash --norc --noprofile', { rows: ROWS, cols: COLS, env: { ...env, PS1: '$ ', R: `${process.execPath} ${RUNPM}` } });
  await waitFor(() => p.text().includes('$'), 'the shell prompt');
  p.keys('clear; echo before attach', 'Enter');
  await waitFor(() => /^before attach$/m.test(p.text()), 'the line before the attach');
  return p;
}

/** What the pane shows once it stops changing (two captures in a row agree). */
async function settled(p: TmuxPane, what: string, ready: (text: string) => boolean) {
  let last = '';
  return waitFor(() => {
    const text = p.text();
    const now = JSON.stringify({ text, cells: p.cells(), state: p.state() });
    const stable = now === last && ready(text);
    last = now;
    return stable ? (JSON.parse(now) as { text: string; cells: string[][]; state: string }) : null;
  }, what, 15_000, 50);
}

function fields(state: string): Record<string, string> {
  return Object.fromEntries(state.split(' ').map((f) => f.split('=') as [string, string]));
}

/**
 * Starts `command` in a session from the pane and attaches; `drive` works the program; then the
 * pane is compared before the detach, after it, and after a re-attach.
 */
async function roundTrip(command: string, ready: (text: string) => boolean, drive: (p: TmuxPane) => Promise<void>) {
  daemon = await startDaemon();
  const p = (pane = await shellPane(daemon));
  p.keys(`ID=$($R run --pty -- ${command}); $R attach $ID; echo "attach-exit=$?"`, 'Enter');
  await waitFor(() => ready(p.text()), `${command} on screen`).catch((err: Error) => {
    throw new Error(`${err.message}; the pane shows:\n${p.text()}`);
  });
  // Started from the pane, the session has the pane's size (no --rows/--cols given).
  const info = (await daemon.client.listPtys())[0]!;
  expect({ rows: info.rows, cols: info.cols }).toEqual(p.size());
  await drive(p);
  const before = await settled(p, 'the program settled', ready);

  p.hexKeys('1c');
  await waitFor(() => /attach-exit=0/.test(p.text()), 'the detach');
  const after = fields(p.state());
  expect(after).toMatchObject({ region: `0,${ROWS - 1}`, ...MODES_OFF });
  expect(p.text(true)).toMatch(/runpm: detached from session \S+ \(\^\\\); it keeps running/);

  p.keys('clear; $R attach $ID; echo "attach-exit=$?"', 'Enter');
  const again = await settled(p, 'the re-attach redrawn', (t) => ready(t) && !t.includes('attach-exit'));
  expect(again.text).toBe(before.text);
  expect(again.cells).toEqual(before.cells);
  expect(fields(again.state)).toEqual(fields(before.state));
  return { pane: p, before: fields(before.state), afterDetach: after };
}

describe.runIf(hasTmux)('runpm attach redraws exactly and detaches cleanly (in a tmux pane)', () => {
  it.runIf(has('vim'))('vim with splits, a search highlight and insert mode', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-fid-'));
    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, Array.from({ length: 60 }, (_, i) => `line ${i} of the notes, with a word or two`).join('\n'));
    const { pane: p, before, afterDetach } = await roundTrip(`vim -u NONE -N -n ${file}`, (t) => t.includes('line 0 of the notes'), async (v) => {
      v.keys(':split', 'Enter', ':vsplit', 'Enter', ':set hlsearch', 'Enter', '/word', 'Enter', 'Escape', 'G');
      await waitFor(() => v.text().includes('line 59'), 'the end of the file');
    });
    expect(before).toMatchObject({ alt: '1', keypad: '1', cursor_keys: '1' });
    // The alternate screen was entered by the attach, so the detach left it: the line before is back.
    expect(afterDetach.alt).toBe('0');
    p.keys(':qa!', 'Enter');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'vim to quit');
    expect(p.text(true)).toMatch(/session \S+ exited with code 0/);
  });

  it.runIf(has('htop'))('htop: mouse reporting (SGR), hidden cursor, keypad', async () => {
    const { pane: p, before } = await roundTrip('htop -d 100000', (t) => /PID\s+USER/.test(t), async () => {});
    expect(before).toMatchObject({ alt: '1', cursor_visible: '0', mouse_sgr: '1' });
    expect(before.mouse).not.toBe('000');
    p.keys('q');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'htop to quit');
  });

  it.runIf(has('less'))('less in the middle of a long file', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-fid-'));
    const file = path.join(tmp, 'long.txt');
    fs.writeFileSync(file, Array.from({ length: 500 }, (_, i) => `\x1b[1mrow\x1b[0m ${i} \x1b[32mgreen\x1b[0m`).join('\n'));
    const { pane: p, before } = await roundTrip(`less -R ${file}`, (t) => /row \d+ green/.test(t), async (l) => {
      l.keys('/', 'row 250', 'Enter');
      await waitFor(() => /^row 250 green/m.test(l.text()), 'less at row 250');
    });
    expect(before.alt).toBe('1');
    p.keys('q');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'less to quit');
  });

  it('bash: colours and underline styles on the normal screen, a scroll region, the cursor mid-screen', async () => {
    const { pane: p, before } = await roundTrip("env PS1='sess> ' bash --norc --noprofile", (t) => /^sess>/m.test(t), async (b) => {
      b.keys(String.raw`printf '\e[31mred \e[4:3;58:2::0:200:0mcurly\e[0m \e[21mdouble\e[0m \e[7;44mrev\e[0m\n'`, 'Enter');
      await waitFor(() => /^red curly double rev$/m.test(b.text()), 'the printf');
      b.keys(String.raw`printf '\e[5;20r\e[12;7Hhere'`, 'Enter');
      await waitFor(() => b.field('region') === '4,19', 'the scroll region');
    });
    expect(before).toMatchObject({ alt: '0', region: '4,19' });
    // A normal-screen session stays on the normal screen: its text is what the pane shows after the
    // detach (nothing restored a stale saved cursor over it).
    p.keys('exit', 'Enter');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'bash to exit');
    expect(p.text()).toMatch(/^red curly double rev$/m);
  });
});

describe.runIf(hasTmux)('runpm attach: sizes, steal, exit reporting', () => {
  it('--steal redraws the screen too, at the stealer\'s size', async () => {
    daemon = await startDaemon();
    const { sessionId } = await daemon.client.spawnPty({ argv: ['sh', '-c', 'printf "\\033[?1049h\\033[5;5HSTEAL ME"; sleep 100'], rows: 10, cols: 40 });
    const env = Object.fromEntries(Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')));
    const first = await daemon.client.attachPty(sessionId, { isTty: true, rows: 10, cols: 40 });
    const p = (pane = new TmuxPane(`${process.execPath} ${RUNPM} attach ${sessionId} --steal; echo "attach-exit=$?"; exec sleep 60`, { rows: ROWS, cols: COLS, env }));
    await waitFor(() => /^ {4}STEAL ME/m.test(p.text()), 'the stolen session redrawn');
    expect(p.field('alt')).toBe('1');
    expect((await daemon.client.listPtys())[0]).toMatchObject({ rows: ROWS, cols: COLS });
    for await (const f of first) if (f.kind === 'stolen') break;
    await daemon.client.terminatePty(sessionId, 200);
    await waitFor(() => /attach-exit=129/.test(p.text()), 'the attach to end with the hangup');
    // Killed by the daemon's hangup: named as a signal, with what the daemon said about it.
    expect(p.text(true)).toMatch(/session \S+ was killed by SIGHUP \(terminated by a request/);
    expect(p.field('alt')).toBe('0');
  });

  it('daemon stop: the session is hung up and the attach says so (SIGHUP, 128+1)', async () => {
    daemon = await startDaemon();
    const { sessionId } = await daemon.client.spawnPty({ argv: ['sleep', '100'] });
    const env = Object.fromEntries(Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')));
    const p = (pane = new TmuxPane(`${process.execPath} ${RUNPM} attach ${sessionId}; echo "attach-exit=$?"; exec sleep 60`, { rows: ROWS, cols: COLS, env }));
    await waitFor(async () => (await daemon!.client.listPtys())[0]!.attached, 'attached');
    await daemon.client.shutdown({ graceful: true, graceMs: 2000 });
    await waitFor(() => /attach-exit=129/.test(p.text()), 'the attach to end with the hangup');
    expect(p.text(true)).toMatch(/session \S+ was killed by SIGHUP \(runpmd is stopping/);
    expect(p.text(true)).not.toMatch(/code -1/);
  });
});
