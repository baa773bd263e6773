// TerminalModes: what the bytes of an attach switched on in the local terminal, and the sequence
// that switches exactly that off again. Checked against a terminal emulator that saw the same bytes.
import { describe, expect, it } from 'vitest';
import { Terminal } from '@xterm/headless';
import { TerminalModes } from '../../src/cli/terminal-modes';
import { hookUntrackedModes, readTerminalState } from '../../src/sessions/screen-state';
import { sgrOf } from '../../src/sessions/screen-render';

function outer(rows = 10, cols = 30) {
  const term = new Terminal({ rows, cols, scrollback: 0, allowProposedApi: true, logLevel: 'off' });
  return { term, hooked: hookUntrackedModes(term) };
}

const write = (t: Terminal, data: string) => new Promise<void>((resolve) => t.write(data, resolve));

/** The state a shell leaves a terminal in, as readTerminalState reports it (cursor aside). */
async function defaults() {
  const o = outer();
  const s = readTerminalState(o.term, o.hooked);
  o.term.dispose();
  return { ...s, cursor: { ...s.cursor, x: 0, y: 0 }, pen: sgrOf(s.pen), activeSaved: null };
}

/** Feeds `bytes` to both the tracker (in `pieces` splits) and an emulator, then the restore. */
async function afterRestore(bytes: string, pieces = 7) {
  const modes = new TerminalModes(() => 10);
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  for (let i = 0; i < bytes.length; i += step) modes.feed(Buffer.from(bytes.slice(i, i + step), 'latin1'));
  const o = outer();
  await write(o.term, 'shell line\r\n$ ');
  await write(o.term, bytes);
  const restore = modes.restoreSequence();
  await write(o.term, restore);
  const s = readTerminalState(o.term, o.hooked);
  return { restore, modes, state: { ...s, cursor: { ...s.cursor, x: 0, y: 0 }, pen: sgrOf(s.pen), activeSaved: null }, term: o.term };
}

describe('TerminalModes', () => {
  it('undoes every mode a full-screen program set, even with its sequences split anywhere', async () => {
    const vim = '\x1b[?1049h\x1b[>4;2m\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h\x1b[2;8r\x1b[?25l\x1b[?1002h\x1b[?1006h'
      + '\x1b[5 q\x1b[4h\x1b[?7l\x1b[>1u\x1b(0\x1b[1;31mtext\x1b]0;title\x07\x1bP+q544e\x1b\\';
    for (const pieces of [1, 3, 7, 50, vim.length]) {
      const r = await afterRestore(vim, pieces);
      expect(r.state, `split into ${pieces}`).toEqual(await defaults());
      expect(r.modes.kittyKeyboardPushes).toBe(1);
      expect(r.restore).toContain('\x1b[?1049l');
      expect(r.restore).toContain('\x1b[>4m');
      expect(r.restore).toContain('\x1b[<1u');
      expect(r.restore).toContain('\x1b[0 q');
    }
  });

  it('on the normal screen, leaves neither the alternate screen nor a saved cursor restore behind', async () => {
    const r = await afterRestore('FINAL OUTPUT\r\n');
    expect(r.restore).not.toContain('?1049l');
    expect(r.restore).not.toContain('\x1b8');
    expect(r.restore).toBe('\x1b[0m\x1b[?25h');
    // The cursor stays where the output left it: the next line is not written over the last.
    expect(r.term.buffer.active.cursorY).toBe(2);
    expect(r.term.buffer.active.getLine(1)!.translateToString(true)).toBe('$ FINAL OUTPUT');
  });

  it('resets a scroll region keeping the cursor, and tracks modes switched off again', async () => {
    const r = await afterRestore('\x1b[3;6r\x1b[5;4Hx\x1b[?1000h\x1b[?1000l\x1b[?2004h\x1b[?2004l\x1b[>4;1m\x1b[>4;0m');
    expect(r.restore).toBe('\x1b[0m\x1b7\x1b[r\x1b8\x1b[?25h');
    expect(r.term.buffer.active.cursorY).toBe(4);
    expect(r.term.buffer.active.cursorX).toBe(4);
    expect(r.state).toEqual(await defaults());
  });

  it('a full-screen region (1;rows) or a soft/hard reset needs no undoing', async () => {
    expect((await afterRestore('\x1b[1;10r')).restore).toBe('\x1b[0m\x1b[?25h');
    expect((await afterRestore('\x1b[?25l\x1b[4h\x1b=\x1b[!p')).restore).toBe('\x1b[0m\x1b[?25h');
    expect((await afterRestore('\x1b[?1049h\x1b[?1003h\x1b[>4;2m\x1bc')).restore).toBe('\x1b[0m\x1b[?25h');
  });

  it('skips over long strings and oversized sequences without growing', () => {
    const modes = new TerminalModes(() => 24);
    modes.feed(Buffer.from(`\x1b]52;c;${'A'.repeat(100_000)}\x07\x1b[${'1;'.repeat(1000)}h\x1b[?2004h`));
    expect(modes.privateModes.has(2004)).toBe(true);
    expect(modes.restoreSequence()).toContain('\x1b[?2004l');
  });
});
