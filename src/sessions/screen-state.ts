// What a headless xterm.js terminal knows about its state beyond the cells: modes, cursor, scroll
// region, saved cursors, the pen, the charset, and the few modes xterm.js does not track itself
// (modifyOtherKeys, UTF-8/urxvt mouse encodings), which parser hooks record. Read at each screen
// snapshot; the hooks live as long as their emulator.
import type { IBufferCell, Terminal } from '@xterm/headless';

/** Mouse reporting as DECSET numbers: tracking 9/1000/1002/1003, encoding 1005/1006/1015/1016. */
export interface MouseState {
  tracking: 0 | 9 | 1000 | 1002 | 1003;
  encoding: 0 | 1005 | 1006 | 1015 | 1016;
}

/** A cursor position (0-based) with the pen that DECSC saves with it. */
export interface SavedCursor {
  x: number;
  y: number;
  pen: IBufferCell | null;
}

/** Everything a redraw must restore besides the cells (0-based rows and columns). */
export interface TerminalState {
  rows: number;
  cols: number;
  alternate: boolean;
  cursor: { x: number; y: number; hidden: boolean; style: number };
  /** Rows of DECSTBM, inclusive. */
  scrollRegion: { top: number; bottom: number };
  /** The active screen's DECSC cursor. */
  activeSaved: SavedCursor;
  /** The current pen (SGR) for the next character. */
  pen: IBufferCell | null;
  /** G0 is DEC special graphics (line drawing) and in use. */
  lineDrawing: boolean;
  applicationCursorKeys: boolean;
  applicationKeypad: boolean;
  bracketedPaste: boolean;
  focusEvents: boolean;
  insertMode: boolean;
  originMode: boolean;
  wraparound: boolean;
  reverseWraparound: boolean;
  mouse: MouseState;
  /** xterm modifyOtherKeys level (CSI > 4 ; n m), 0 = off. */
  modifyOtherKeys: number;
}

/** Modes recorded by parser hooks: xterm.js parses these sequences but keeps no state for them. */
export interface HookedModes {
  modifyOtherKeys: number;
  /** Last of 1005/1015 set (xterm.js only knows 1006/1016), 0 if none. */
  legacyMouseEncoding: 0 | 1005 | 1015;
}

/** The private parts of xterm.js this module reads (stable across 5.x and 6.x; checked by tests). */
interface CoreInternals {
  coreService: { isCursorHidden: boolean; decPrivateModes: { cursorStyle?: string; cursorBlink?: boolean } };
  coreMouseService: { activeEncoding: string; activeProtocol: string };
  buffers: { normal: InternalBuffer; alt: InternalBuffer; active: InternalBuffer };
  _inputHandler: { _curAttrData: IBufferCell };
  _charsetService: { glevel: number; charset: Record<string, string> | undefined };
}

interface InternalBuffer {
  x: number;
  y: number;
  scrollTop: number;
  scrollBottom: number;
  savedX: number;
  savedY: number;
  savedCurAttrData?: IBufferCell;
}

function core(term: Terminal): CoreInternals {
  return (term as unknown as { _core: CoreInternals })._core;
}

/** Registers the hooks that record what xterm.js does not (call once, right after creating term). */
export function hookUntrackedModes(term: Terminal): HookedModes {
  const modes: HookedModes = { modifyOtherKeys: 0, legacyMouseEncoding: 0 };
  // Handlers return false: xterm.js still handles (or ignores) the sequence itself.
  term.parser.registerCsiHandler({ prefix: '>', final: 'm' }, (params) => {
    // CSI > 4 ; n m sets modifyOtherKeys to n; CSI > 4 m (no value) resets it.
    if (first(params[0]) === 4) modes.modifyOtherKeys = first(params[1]) ?? 0;
    return false;
  });
  term.parser.registerCsiHandler({ prefix: '>', final: 'n' }, (params) => {
    // CSI > 4 n: modifyOtherKeys disabled.
    if (first(params[0]) === 4) modes.modifyOtherKeys = 0;
    return false;
  });
  const onPrivateMode = (set: boolean) => (params: (number | number[])[]) => {
    for (const p of params) {
      const mode = first(p);
      if (mode === 1005 || mode === 1015) modes.legacyMouseEncoding = set ? mode : 0;
      else if (set && (mode === 1006 || mode === 1016)) modes.legacyMouseEncoding = 0;
    }
    return false;
  };
  term.parser.registerCsiHandler({ prefix: '?', final: 'h' }, onPrivateMode(true));
  term.parser.registerCsiHandler({ prefix: '?', final: 'l' }, onPrivateMode(false));
  // RIS (ESC c) resets the terminal, these modes included.
  term.parser.registerEscHandler({ final: 'c' }, () => {
    modes.modifyOtherKeys = 0;
    modes.legacyMouseEncoding = 0;
    return false;
  });
  return modes;
}

function first(p: number | number[] | undefined): number | undefined {
  return Array.isArray(p) ? p[0] : p;
}

const TRACKING: Record<string, MouseState['tracking']> = { NONE: 0, X10: 9, VT200: 1000, DRAG: 1002, ANY: 1003 };
const ENCODING: Record<string, MouseState['encoding']> = { DEFAULT: 0, SGR: 1006, SGR_PIXELS: 1016 };
/** DECSCUSR numbers: blinking block 1, steady block 2, underline 3/4, bar 5/6; 0 = the terminal's default. */
const CURSOR_STYLE: Record<string, number> = { block: 1, underline: 3, bar: 5 };

/** Reads the terminal's state (call after its writes were parsed). */
export function readTerminalState(term: Terminal, hooked: HookedModes): TerminalState {
  const c = core(term);
  const modes = term.modes;
  const active = c.buffers.active;
  const alternate = term.buffer.active.type === 'alternate';
  const priv = c.coreService.decPrivateModes;
  const style = priv.cursorStyle ? CURSOR_STYLE[priv.cursorStyle] ?? 0 : 0;
  const charset = c._charsetService.charset;
  const encoding = hooked.legacyMouseEncoding || (ENCODING[c.coreMouseService.activeEncoding] ?? 0);
  return {
    rows: term.rows,
    cols: term.cols,
    alternate,
    cursor: {
      // x may equal cols: the last column was written and the next character wraps (pending wrap).
      x: active.x,
      y: active.y,
      hidden: c.coreService.isCursorHidden,
      style: style && priv.cursorBlink === false ? style + 1 : style,
    },
    scrollRegion: { top: active.scrollTop, bottom: active.scrollBottom },
    activeSaved: { x: active.savedX, y: active.savedY, pen: active.savedCurAttrData ?? null },
    pen: c._inputHandler._curAttrData ?? null,
    // DEC special graphics maps q to a horizontal line; no other charset does.
    lineDrawing: charset !== undefined && charset !== null && charset.q === '─',
    applicationCursorKeys: modes.applicationCursorKeysMode,
    applicationKeypad: modes.applicationKeypadMode,
    bracketedPaste: modes.bracketedPasteMode,
    focusEvents: modes.sendFocusMode,
    insertMode: modes.insertMode,
    originMode: modes.originMode,
    wraparound: modes.wraparoundMode,
    reverseWraparound: modes.reverseWraparoundMode,
    mouse: { tracking: TRACKING[c.coreMouseService.activeProtocol] ?? 0, encoding },
    modifyOtherKeys: hooked.modifyOtherKeys,
  };
}
