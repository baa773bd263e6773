// Renders a headless terminal's screen as the bytes that redraw it on a real terminal: every cell
// with its attributes (underline styles and colours included), wrapped rows as wraps, on the
// alternate screen when the program is on it, then the modes, scroll region, saved cursor, cursor
// and pen.
// Written for one snapshot; the target terminal is assumed to be in its default state.
// (@xterm/addon-serialize drops underline styles and colours, cursor visibility, the scroll region,
// mouse encodings, keypad mode as tmux knows it, modifyOtherKeys and the saved cursor.)
import type { IBuffer, IBufferCell, Terminal } from '@xterm/headless';
import type { HookedModes, TerminalState } from './screen-state';
import { readTerminalState } from './screen-state';

const ESC = '\x1b';
const CSI = `${ESC}[`;

/**
 * Renders term's current screen (call after its writes were parsed). A program on the alternate
 * screen is drawn on the target's alternate screen and nothing else: entering it first saves the
 * target's own cursor and screen, so leaving it (the program, or a detach) brings back what the
 * target showed before, as with tmux. A normal-screen session is drawn over the target's screen.
 */
export function renderScreen(term: Terminal, hooked: HookedModes): string {
  const state = readTerminalState(term, hooked);
  const out: string[] = [];
  if (state.alternate) out.push(`${CSI}?1049h`);
  // Hidden while drawing; the real visibility comes last. Scroll region, origin, wrap, insert and
  // charset back to their defaults so cells land where they belong.
  out.push(`${CSI}?25l${CSI}0m${CSI}r${CSI}?6l${CSI}?7h${CSI}4l${ESC}(B\x0f${CSI}H${CSI}2J`);
  drawRows(out, term.buffer.active, state.cols, state.rows);
  out.push(renderModes(state, pendingWrapCell(term.buffer.active, state)));
  return out.join('');
}

/** The cell to rewrite so the terminal is left in pending wrap, when the session's cursor is. */
export interface WrapCell {
  x: number;
  chars: string;
  sgr: string;
}

// The cursor is past the last column (x == cols): the last cell of its row, to be written again.
function pendingWrapCell(buffer: IBuffer, s: TerminalState): WrapCell | null {
  if (s.cursor.x < s.cols || !s.wraparound) return null;
  const line = buffer.getLine(buffer.viewportY + s.cursor.y);
  if (!line) return null;
  const cell = buffer.getNullCell();
  for (let x = s.cols - 1; x >= 0; x--) {
    line.getCell(x, cell);
    if (cell.getWidth() === 0) continue;
    return { x, chars: cell.getChars() || ' ', sgr: sgrOf(cell) };
  }
  return null;
}

/**
 * Modes, scroll region, DECSC cursor, cursor position, pen, charset and visibility, ordered so that
 * each survives the next (DECSTBM and DECOM move the cursor; insert mode would shift a rewrite).
 */
export function renderModes(s: TerminalState, wrapCell: WrapCell | null = null): string {
  let out = `${CSI}0m`;
  if (s.applicationCursorKeys) out += `${CSI}?1h`;
  // DECKPAM (ESC =): tmux and most terminals know it; few know DECNKM (?66h).
  if (s.applicationKeypad) out += `${ESC}=`;
  if (s.bracketedPaste) out += `${CSI}?2004h`;
  if (s.focusEvents) out += `${CSI}?1004h`;
  if (s.mouse.tracking) out += `${CSI}?${s.mouse.tracking}h`;
  if (s.mouse.encoding) out += `${CSI}?${s.mouse.encoding}h`;
  if (s.modifyOtherKeys) out += `${CSI}>4;${s.modifyOtherKeys}m`;
  if (s.cursor.style) out += `${CSI}${s.cursor.style} q`;
  if (s.reverseWraparound) out += `${CSI}?45h`;
  if (s.scrollRegion.top !== 0 || s.scrollRegion.bottom !== s.rows - 1) out += `${CSI}${s.scrollRegion.top + 1};${s.scrollRegion.bottom + 1}r`;
  const saved = s.activeSaved;
  if (saved.x !== 0 || saved.y !== 0 || sgrOf(saved.pen) !== '0') {
    // DECSC saves position and pen (the ?1049h in renderScreen saved the normal screen's).
    out += `${CSI}${saved.y + 1};${Math.min(saved.x, s.cols - 1) + 1}H${CSI}${sgrOf(saved.pen)}m${ESC}7${CSI}0m`;
  }
  if (s.originMode) out += `${CSI}?6h`;
  out += cursorPosition(s, wrapCell);
  if (s.insertMode) out += `${CSI}4h`;
  if (!s.wraparound) out += `${CSI}?7l`;
  out += `${CSI}${sgrOf(s.pen)}m`;
  if (s.lineDrawing) out += `${ESC}(0`;
  if (!s.cursor.hidden) out += `${CSI}?25h`;
  return out;
}

// CUP to the cursor (relative to the scroll region under origin mode). A cursor past the last
// column (pending wrap) cannot be reached by CUP: the last cell is written again to get there.
function cursorPosition(s: TerminalState, wrapCell: WrapCell | null): string {
  const top = s.originMode ? s.scrollRegion.top : 0;
  const row = s.cursor.y - top + 1;
  if (wrapCell) return `${CSI}${row};${wrapCell.x + 1}H${CSI}${wrapCell.sgr}m${wrapCell.chars}${CSI}0m`;
  return `${CSI}${row};${Math.min(s.cursor.x, s.cols - 1) + 1}H`;
}

/** Draws the rows of a buffer's viewport on a cleared screen; the pen is left reset. */
function drawRows(out: string[], buffer: IBuffer, cols: number, rows: number): void {
  const cell = buffer.getNullCell();
  let pen = '0';
  // After a row that wraps into the next, the terminal's cursor is there already: no CUP.
  let continues = false;
  for (let y = 0; y < rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    if (!line) break;
    const wrapsIntoNext = y + 1 < rows && buffer.getLine(buffer.viewportY + y + 1)?.isWrapped === true;
    let row = continues ? '' : `${CSI}${y + 1};1H`;
    // Cells not written yet: default-empty ones (a cursor move skips them) or erased ones on a
    // coloured background (erased the same way, ECH, with that pen).
    let run = 0;
    let runSgr = '0';
    const flush = () => {
      if (run === 0) return;
      if (runSgr !== '0') {
        if (runSgr !== pen) row += `${CSI}${(pen = runSgr)}m`;
        row += `${CSI}${run}X`;
      }
      row += `${CSI}${run}C`;
      run = 0;
    };
    for (let x = 0; x < cols; x++) {
      line.getCell(x, cell);
      const width = cell.getWidth();
      if (width === 0) continue; // The second half of a wide character.
      let chars = cell.getChars();
      const sgr = sgrOf(cell);
      if (chars === '') {
        // A wrapping row's last cell must be written, or the terminal would not wrap there; so
        // must a continued row's first (a cursor move would not take the pending wrap).
        if (!(wrapsIntoNext && x + width >= cols) && !(continues && x === 0)) {
          if (run > 0 && sgr !== runSgr) flush();
          runSgr = sgr;
          run += width;
          continue;
        }
        chars = ' ';
      }
      flush();
      if (sgr !== pen) row += `${CSI}${(pen = sgr)}m`;
      row += chars;
    }
    // Trailing cells: default ones need nothing, coloured ones are erased (no cursor move needed).
    if (run > 0 && runSgr !== '0') {
      if (runSgr !== pen) row += `${CSI}${(pen = runSgr)}m`;
      row += `${CSI}${run}X`;
    }
    continues = wrapsIntoNext;
    out.push(row);
  }
  if (pen !== '0') out.push(`${CSI}0m`);
}

/** SGR parameters (without CSI and m) for a cell's attributes; '0' for the default. */
export function sgrOf(cell: IBufferCell | null): string {
  if (!cell) return '0';
  const p: string[] = ['0'];
  if (cell.isBold()) p.push('1');
  if (cell.isDim()) p.push('2');
  if (cell.isItalic()) p.push('3');
  const underline = underlineStyleOf(cell);
  if (underline === 1) p.push('4');
  else if (underline > 1) p.push(`4:${underline}`);
  if (cell.isBlink()) p.push('5');
  if (cell.isInverse()) p.push('7');
  if (cell.isInvisible()) p.push('8');
  if (cell.isStrikethrough()) p.push('9');
  if (cell.isOverline()) p.push('53');
  if (cell.isFgRGB()) p.push(`38;2;${rgb(cell.getFgColor())}`);
  else if (cell.isFgPalette()) p.push(paletteColor(cell.getFgColor(), 30, 90, 38));
  if (cell.isBgRGB()) p.push(`48;2;${rgb(cell.getBgColor())}`);
  else if (cell.isBgPalette()) p.push(paletteColor(cell.getBgColor(), 40, 100, 48));
  const uc = underlineColorOf(cell);
  if (uc) p.push(uc);
  return p.join(';');
}

function rgb(color: number): string {
  return `${(color >>> 16) & 0xff};${(color >>> 8) & 0xff};${color & 0xff}`;
}

function paletteColor(color: number, base: number, brightBase: number, extended: number): string {
  if (color < 8) return String(base + color);
  if (color < 16) return String(brightBase + color - 8);
  return `${extended};5;${color}`;
}

/** The parts of xterm.js's cells that carry underline style and colour (not in the typings). */
interface ExtendedCell {
  hasExtendedAttrs?(): number | boolean;
  getUnderlineStyle?(): number;
  extended?: { underlineColor: number };
}

/** Colour mode bits of xterm.js's packed colours: 16-colour and 256-colour palette, RGB. */
const COLOR_MODE_MASK = 0x3000000;
const COLOR_MODE_P16 = 0x1000000;
const COLOR_MODE_P256 = 0x2000000;

// 1 single, 2 double, 3 curly, 4 dotted, 5 dashed (SGR 4:n); 0 none.
function underlineStyleOf(cell: IBufferCell): number {
  if (!cell.isUnderline()) return 0;
  const style = (cell as unknown as ExtendedCell).getUnderlineStyle?.() ?? 1;
  return style >= 1 && style <= 5 ? style : 1;
}

// SGR 58 in colon form (58:5:n, 58:2::r:g:b), as tmux and xterm parse it; '' when none was set.
// (xterm.js's getUnderlineColor() answers the foreground then, so the packed value is read.)
function underlineColorOf(cell: IBufferCell): string {
  const ext = cell as unknown as ExtendedCell;
  if (!ext.hasExtendedAttrs?.() || !ext.extended) return '';
  const packed = ext.extended.underlineColor;
  const mode = packed & COLOR_MODE_MASK;
  if (mode === COLOR_MODE_P16 || mode === COLOR_MODE_P256) return `58:5:${packed & 0xff}`;
  if (mode === COLOR_MODE_MASK) return `58:2::${rgb(packed & 0xffffff).replace(/;/g, ':')}`;
  return '';
}
