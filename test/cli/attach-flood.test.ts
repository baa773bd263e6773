// `runpm attach` during an output flood (issue 18.3, with 15.1's lossless flow), in a real tmux pane:
// ^C stops a `cat` of a big file and the prompt comes back, with every line shown up to there in order
// and no "bytes dropped" notice (the session's output was held while the terminal was behind, not
// dropped); the detach key leaves during the flood and the session keeps flooding; a re-attach shows
// it and ^C stops it. How fast is for the benchmark (bench/attach-latency.ts), not for this test.
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

const LINES = 400_000;

/** Numbered lines, 32 bytes each (about 12 MB): enough that the flood outlasts the test's keys. */
function floodFile(dir: string): string {
  const file = path.join(dir, 'flood.txt');
  const fd = fs.openSync(file, 'w');
  try {
    for (let start = 0; start < LINES; start += 10_000) {
      let chunk = '';
      for (let i = start; i < start + 10_000; i++) chunk += `flood ${String(i).padStart(9, '0')} abcdefghijklmnop\n`;
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** The numbers of the flood lines the pane shows, top to bottom. */
function shownNumbers(text: string): number[] {
  return [...text.matchAll(/^flood (\d{9}) abcdefghijklmnop$/gm)].map((m) => Number(m[1]));
}

const lastLine = (text: string) => text.replace(/\s+$/, '').split('\n').pop() ?? '';

describe('runpm attach during a flood (in a tmux pane)', () => {
  it('^C stops the flood: the prompt comes back, every line up to there shown in order, nothing dropped', async () => {
    requireTools('tmux', 'bash');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-flood-'));
    const file = floodFile(tmp);
    // A small ring: a terminal a ring behind is reached early, where a lossy attach would drop.
    daemon = await startDaemon({ args: ['--ring-bytes', String(256 * 1024)] });
    const { sessionId } = await daemon.client.spawnPty({ argv: ['bash', '--norc', '--noprofile'], env: { PS1: 'sess> ' }, rows: 30, cols: 100 });
    const env = Object.fromEntries(Object.entries(daemon.env).filter(([k]) => k.startsWith('RUNPM_')));
    // Scrollback for every line of the first flood that reaches the pane (a dropped stretch would show there).
    const p = (pane = new TmuxPane(`${process.execPath} ${RUNPM} attach ${sessionId}; echo "attach-exit=$?"; exec sleep 60`, { rows: 30, cols: 100, env, history: LINES }));
    await waitFor(() => lastLine(p.text()) === 'sess>', 'the session prompt');

    p.keys(`cat ${file}`, 'Enter');
    await waitFor(() => shownNumbers(p.text()).some((n) => n > 100_000), 'the flood 3 MB on (three rings)');
    p.keys('C-c');
    const text = await waitFor(() => {
      const t = p.text();
      return lastLine(t) === 'sess>' ? t : null;
    }, 'the prompt after ^C');
    const all = p.history();
    const shown = shownNumbers(all);
    // From the first line on and consecutive: no line lost or spliced between the flood and the terminal.
    expect(shown[0]).toBe(0);
    const gap = shown.findIndex((n, i) => i > 0 && n !== shown[i - 1]! + 1);
    expect(gap, gap < 0 ? '' : `line ${shown[gap - 1]} followed by ${shown[gap]}`).toBe(-1);
    expect(shown[shown.length - 1]!).toBeLessThan(LINES - 1);
    expect(all).not.toMatch(/bytes dropped/);
    expect(text).toMatch(/^sess>\s*$/m);

    // The detach key during a flood: out at once, the session floods on, a re-attach shows it.
    p.keys(`cat ${file}`, 'Enter');
    await waitFor(() => shownNumbers(p.text()).some((n) => n > 20_000), 'the second flood under way');
    p.hexKeys('1c');
    await waitFor(() => /attach-exit=0/.test(p.text()), 'the detach');
    expect(p.text(true)).toMatch(/runpm: detached from session \S+ \(\^\\\); it keeps running/);
    expect((await daemon.client.listPtys())[0]).toMatchObject({ attached: false, exited: false });
    p.respawn(`${process.execPath} ${RUNPM} attach ${sessionId}; echo "attach-exit=$?"; exec sleep 60`, env);
    await waitFor(() => shownNumbers(p.text()).length > 0, 'the flood after the re-attach');
    p.keys('C-c');
    await waitFor(() => lastLine(p.text()) === 'sess>', 'the prompt after the re-attach and ^C');
    expect(p.text()).not.toMatch(/bytes dropped/);
  });
});
