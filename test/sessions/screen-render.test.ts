// renderScreen: what a session's emulator holds, drawn on a fresh terminal, gives that terminal the
// same cells (attributes, underline styles and colours, wide characters, wraps), the same modes,
// scroll region, saved cursors, pen and cursor, on the normal and the alternate screen.
import { describe, expect, it } from 'vitest';
import { Terminal } from '@xterm/headless';
import { renderScreen, sgrOf } from '../../src/sessions/screen-render';
import { hookUntrackedModes, readTerminalState, type HookedModes } from '../../src/sessions/screen-state';

interface Emulator {
  term: Terminal;
  hooked: HookedModes;
}

function emulator(rows: number, cols: number): Emulator {
  const term = new Terminal({ rows, cols, scrollback: 0, allowProposedApi: true, logLevel: 'off' });
  return { term, hooked: hookUntrackedModes(term) };
}

function write(e: Emulator, data: string): Promise<void> {
  return new Promise((resolve) => e.term.write(data, resolve));
}

/** Every cell of a buffer as chars/width/SGR, and each row's wrapped flag. */
function cellsOf(term: Terminal, which: 'normal' | 'alternate'): string[] {
  const buffer = term.buffer[which];
  const cell = buffer.getNullCell();
  const rows: string[] = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y)!;
    const cells: string[] = [line.isWrapped ? 'W' : '-'];
    for (let x = 0; x < term.cols; x++) {
      line.getCell(x, cell);
      cells.push(`${cell.getChars() || '·'}/${cell.getWidth()}/${sgrOf(cell)}`);
    }
    rows.push(cells.join(' '));
  }
  return rows;
}

function stateOf(e: Emulator) {
  const s = readTerminalState(e.term, e.hooked);
  return {
    ...s,
    pen: sgrOf(s.pen),
    activeSaved: { ...s.activeSaved, pen: sgrOf(s.activeSaved.pen) },
  };
}

/** Feeds `input` to a session emulator, renders it onto a dirty fresh one, and compares them. */
async function roundTrip(input: string, rows = 8, cols = 20): Promise<{ session: Emulator; shown: Emulator }> {
  const session = emulator(rows, cols);
  await write(session, input);
  const shown = emulator(rows, cols);
  await write(shown, 'garbage the rendering must clear\r\n\x1b[31mmore');
  await write(shown, renderScreen(session.term, session.hooked));
  expect(cellsOf(shown.term, session.term.buffer.active.type)).toEqual(cellsOf(session.term, session.term.buffer.active.type));
  expect(stateOf(shown)).toEqual(stateOf(session));
  return { session, shown };
}

describe('renderScreen', () => {
  it('a full-screen program: alternate screen, scroll region, modes, mouse, keys, cursor', async () => {
    const { shown } = await roundTrip('$ vim\r\n\x1b[?1049h\x1b[22;0;0t\x1b[>4;2m\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h'
      + '\x1b[?1002h\x1b[?1006h\x1b[?25l\x1b[6 q\x1b[2;7r\x1b[H\x1b[1mtitle\x1b[0m\x1b[3;4Hbody\x1b[8;1H\x1b[7m-- INSERT --\x1b[0m\x1b[4;2H');
    const s = stateOf(shown);
    expect(s).toMatchObject({
      alternate: true, scrollRegion: { top: 1, bottom: 6 }, cursor: { x: 1, y: 3, hidden: true, style: 6 },
      applicationCursorKeys: true, applicationKeypad: true, bracketedPaste: true, focusEvents: true,
      mouse: { tracking: 1002, encoding: 1006 }, modifyOtherKeys: 2,
    });
  });

  it('every SGR attribute, underline styles and colours, 256 and RGB colours, the pen', async () => {
    const { shown } = await roundTrip('\x1b[1mB\x1b[2mD\x1b[0;3mI\x1b[0;4mU\x1b[4:2mW\x1b[4:3mC\x1b[4:4mO\x1b[4:5mA\x1b[21mX'
      + '\x1b[0;5mK\x1b[0;7mR\x1b[0;8mH\x1b[0;9mS\x1b[0;53mL\x1b[0m\r\n'
      + '\x1b[31ma\x1b[92mb\x1b[38;5;200mc\x1b[38;2;1;2;3md\x1b[44me\x1b[103mf\x1b[48;5;17mg\x1b[48;2;250;0;9mh\x1b[0m\r\n'
      + '\x1b[4:3;58:2::255:0:0mred curl\x1b[0m \x1b[4;58;5;33mblue\x1b[0m\r\n\x1b[1;4:3;58;5;9;38;5;45m');
    expect(stateOf(shown).pen).toBe('0;1;4:3;38;5;45;58:5:9');
    expect(cellsOf(shown.term, 'normal')[2]).toContain('r/1/0;4:3;58:2::255:0:0');
    // A coloured cell without an underline colour has none (xterm.js reports its foreground then).
    expect(cellsOf(shown.term, 'normal')[1]).toContain('a/1/0;31 ');
    expect(cellsOf(shown.term, 'normal')[1]).not.toContain('58');
  });

  it('wide and combining characters, wrapped rows, erased cells on a coloured background', async () => {
    await roundTrip('日本語の文字とemoji 😀 e\u0301 end\r\n'
      + `${'w'.repeat(20)}rapped into the next row\r\n`
      + '\x1b[44mblue bg line\x1b[K\x1b[0m\r\n\x1b[41m\x1b[5X\x1b[0m after an erase');
  });

  it('a cursor in pending wrap, line drawing, insert and origin mode, DECSC', async () => {
    // Cursor saved at 2,3 with bold, line drawing active, origin mode in a region, last column written.
    const { session } = await roundTrip('\x1b[3;4H\x1b[1m\x1b7\x1b[0mx\x1b[2;6r\x1b[?6h\x1b[4h\x1b(0lqqk\x1b[3;1H'
      + `${'e'.repeat(20)}`, 8, 20);
    expect(stateOf(session).cursor.x).toBe(20);
    // The next character wraps on both, and DECRC goes back to the saved cursor on both.
    const again = await roundTrip('\x1b[2;6r\x1b[?6h\x1b(0lqk\x1b[4;1H' + 'e'.repeat(20));
    await write(again.session, 'Z\x1b8*');
    await write(again.shown, 'Z\x1b8*');
    expect(cellsOf(again.shown.term, 'normal')).toEqual(cellsOf(again.session.term, 'normal'));
  });

  it('a program on the alternate screen is drawn there: leaving it brings back the target\'s own screen and cursor', async () => {
    const session = emulator(8, 20);
    await write(session, 'session line\r\n$ vim x\x1b[?1049h\x1b[Hvim screen\x1b[5;5H');
    const shown = emulator(8, 20);
    await write(shown, 'my shell\r\n$ runpm attach');
    await write(shown, renderScreen(session.term, session.hooked));
    expect(cellsOf(shown.term, 'alternate')).toEqual(cellsOf(session.term, 'alternate'));
    expect(stateOf(shown)).toEqual(stateOf(session));
    // The program quits (or the client detaches): the target's screen is as it was before.
    await write(shown, '\x1b[?1049l');
    expect(cellsOf(shown.term, 'normal')[0]).toMatch(/^- m\/1\/0 y\/1\/0 /);
    expect(stateOf(shown).cursor).toMatchObject({ x: 14, y: 1 });
  });

  it('mouse encodings xterm.js does not keep (1005, 1015), modifyOtherKeys off again, RIS', async () => {
    const { shown } = await roundTrip('\x1b[?1000h\x1b[?1015h\x1b[>4;1m');
    expect(stateOf(shown)).toMatchObject({ mouse: { tracking: 1000, encoding: 1015 }, modifyOtherKeys: 1 });
    const off = await roundTrip('\x1b[?1003h\x1b[?1005h\x1b[>4;1m\x1b[>4m');
    expect(stateOf(off.shown)).toMatchObject({ mouse: { tracking: 1003, encoding: 1005 }, modifyOtherKeys: 0 });
    const reset = await roundTrip('\x1b[?1003h\x1b[?1005h\x1b[>4;2m\x1bc');
    expect(stateOf(reset.shown)).toMatchObject({ mouse: { tracking: 0, encoding: 0 }, modifyOtherKeys: 0 });
  });
});
