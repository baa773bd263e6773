// `runpm attach` in a real terminal (a pane of a private tmux server), as a tmux user would use it:
// vim with splits, htop, less, man, bash and a script setting every mode of issue 18.2; what the pane shows (text, and every cell's attributes) and
// its state (scroll region, cursor, alternate screen, keypad, mouse) just before a detach equal what
// a re-attach redraws, the detach puts the pane back as it was before the attach, and a session
// started from the pane has the pane's size. A program these tests drive that is missing fails the
// test (never a skip): .ci/run installs them all.
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUNPM, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { TmuxPane, requireTools } from '../helpers/tmux';
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

describe('runpm attach redraws exactly and detaches cleanly (in a tmux pane)', () => {
  it('vim with splits, a search highlight and insert mode', async () => {
    requireTools('tmux', 'vim');
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

  it('htop: mouse reporting (SGR), hidden cursor, keypad', async () => {
    requireTools('tmux', 'htop');
    const { pane: p, before } = await roundTrip('htop -d 100000', (t) => /PID\s+USER/.test(t), async () => {});
    expect(before).toMatchObject({ alt: '1', cursor_visible: '0', mouse_sgr: '1' });
    expect(before.mouse).not.toBe('000');
    p.keys('q');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'htop to quit');
  });

  it('less in the middle of a long file', async () => {
    requireTools('tmux', 'less');
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

  it('man (its pager on the alternate screen)', async () => {
    requireTools('tmux', 'man', 'less');
    // man-db's prompt for less names the page and the line.
    const { pane: p, before } = await roundTrip('env MANPAGER=less PAGER=less man ls', (t) => /Manual page ls\(1\) line \d+/.test(t), async (m) => {
      m.keys('G');
      await waitFor(() => /Manual page ls\(1\) line \d+\/\d+ \(END\)/.test(m.text()), 'man at the end of the page');
    });
    expect(before.alt).toBe('1');
    p.keys('q');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'man to quit');
  });

  it('every mode of issue 18.2 at once: alternate screen, hidden cursor mid-screen, scroll region, button mouse SGR, bracketed paste, keypad, SGR styles', async () => {
    requireTools('tmux');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-fid-'));
    const script = path.join(tmp, 'modes.sh');
    // Sets every mode, draws styled cells, parks a hidden cursor at row 10 column 5, then echoes
    // its input visibly (cat -v), so what the pane forwards after a re-attach can be read back.
    fs.writeFileSync(script, [
      String.raw`printf '\033[?1049h\033[?1h\033=\033[?2004h\033[?1004h\033[?1002h\033[?1006h'`,
      String.raw`printf '\033[1;1H\033[4:3;58:5:196mcurly\033[0m \033[4:2mdouble\033[0m \033[38;2;10;20;30;48;5;100mrgb\033[0m \033[9;53;3mstrike\033[0m'`,
      String.raw`printf '\033[3;20r\033[?25l\033[10;5H'`,
      'stty raw -echo',
      'exec cat -v',
    ].join('\n'));
    const { pane: p, before } = await roundTrip(`sh ${script}`, (t) => /^curly double rgb strike/m.test(t), async () => {});
    expect(before).toMatchObject({ alt: '1', keypad: '1', cursor_keys: '1', mouse: '010', mouse_sgr: '1', region: '2,19', cursor: '4,9', cursor_visible: '0' });
    // Bracketed paste came back with the redraw: tmux brackets a paste (-p) only for a pane that asked.
    p.tmux('set-buffer', '-b', 'rp', 'PASTED');
    p.tmux('paste-buffer', '-p', '-b', 'rp', '-t', 'main');
    await waitFor(() => p.text().includes('^[[200~PASTED^[[201~'), 'the bracketed paste echoed by the session');
    p.hexKeys('1c');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'the detach');
    expect(fields(p.state())).toMatchObject({ region: `0,${ROWS - 1}`, ...MODES_OFF });
  });

  it('bash: colours and underline styles on the normal screen, a scroll region, the cursor mid-screen', async () => {
    requireTools('tmux', 'bash');
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

describe('runpm attach: sizes, steal, exit reporting', () => {
  it('--steal redraws the screen too, at the stealer\'s size', async () => {
    requireTools('tmux');
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
    requireTools('tmux');
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
