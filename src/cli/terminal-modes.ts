// What an attach did to the local terminal: the modes, screens and regions the bytes written to it
// switched on (the screen replay and the session's live output alike), tracked by a small escape
// sequence scanner, so that leaving puts back only what was changed. Lives for one attach; assumes
// the terminal was in its default state when the attach began (a shell had just run runpm).
const ESC = 0x1b;
const BEL = 0x07;
/** A CSI longer than this is not a mode change we track: it is skipped, never buffered further. */
const MAX_SEQUENCE_BYTES = 64;

type ScanState = 'ground' | 'esc' | 'escIntermediate' | 'csi' | 'string' | 'stringEsc';

/** DEC private modes whose "set" needs undoing, with the sequence that undoes each. */
const PRIVATE_MODE_RESETS: ReadonlyMap<number, string> = new Map([
  [1, '\x1b[?1l'], // application cursor keys
  [6, '\x1b[?6l'], // origin mode
  [9, '\x1b[?9l'], [1000, '\x1b[?1000l'], [1002, '\x1b[?1002l'], [1003, '\x1b[?1003l'], // mouse tracking
  [1005, '\x1b[?1005l'], [1006, '\x1b[?1006l'], [1015, '\x1b[?1015l'], [1016, '\x1b[?1016l'], // mouse encodings
  [1004, '\x1b[?1004l'], // focus events
  [1007, '\x1b[?1007l'], // alternate scroll
  [2004, '\x1b[?2004l'], // bracketed paste
  [2026, '\x1b[?2026l'], // synchronized output (left on, the terminal would stop drawing)
  [45, '\x1b[?45l'], // reverse wraparound
  [66, '\x1b[?66l'], // numeric keypad mode (DECNKM)
  [12, '\x1b[?12l'], // cursor blinking
]);
/** Alternate screen modes; leaving uses the one that entered. */
const ALT_SCREEN_MODES = new Set([47, 1047, 1049]);

export class TerminalModes {
  /** The alternate-screen mode in effect (47, 1047 or 1049), 0 on the normal screen. */
  altScreen = 0;
  readonly privateModes = new Set<number>();
  cursorHidden = false;
  /** Autowrap switched off (?7l). */
  noWrap = false;
  keypadApplication = false;
  insertMode = false;
  scrollRegion = false;
  modifyOtherKeys = false;
  /** Kitty keyboard flags pushed and not popped. */
  kittyKeyboardPushes = 0;
  cursorStyle = false;
  lineDrawing = false;

  private state: ScanState = 'ground';
  private seq = '';

  constructor(private readonly rows: () => number) {}

  /** Scans bytes on their way to the terminal; sequences may be split across calls. */
  feed(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === 'ground') {
        // Text is skipped at memchr speed: only escape sequences change modes.
        const at = chunk.indexOf(ESC, i);
        if (at < 0) return;
        this.state = 'esc';
        i = at + 1;
        continue;
      }
      this.step(chunk[i]!);
      i++;
    }
  }

  private step(b: number): void {
    switch (this.state) {
      case 'esc': return this.afterEsc(b);
      case 'escIntermediate': return this.escFinal(b);
      case 'csi': return this.csiByte(b);
      case 'string':
        // OSC/DCS/APC/PM/SOS bodies end at BEL or ST (ESC \); their content is not tracked.
        if (b === BEL) this.state = 'ground';
        else if (b === ESC) this.state = 'stringEsc';
        return;
      case 'stringEsc':
        this.state = b === 0x5c ? 'ground' : 'string';
        return;
      default:
        return;
    }
  }

  private afterEsc(b: number): void {
    this.seq = '';
    if (b === 0x5b) { this.state = 'csi'; return; } // [
    if (b === 0x5d || b === 0x50 || b === 0x5f || b === 0x5e || b === 0x58) { this.state = 'string'; return; } // ] P _ ^ X
    if (b >= 0x20 && b <= 0x2f) { this.seq = String.fromCharCode(b); this.state = 'escIntermediate'; return; }
    this.state = b === ESC ? 'esc' : 'ground';
    if (b === 0x3d) this.keypadApplication = true; // ESC = (DECKPAM)
    else if (b === 0x3e) this.keypadApplication = false; // ESC > (DECKPNM)
    else if (b === 0x63) this.resetAll(); // ESC c (RIS)
  }

  private escFinal(b: number): void {
    if (b >= 0x20 && b <= 0x2f) {
      if (this.seq.length < MAX_SEQUENCE_BYTES) this.seq += String.fromCharCode(b);
      return;
    }
    // ESC ( 0 designates line drawing into G0; ESC ( B back to ASCII.
    if (this.seq === '(') this.lineDrawing = b === 0x30;
    this.state = b === ESC ? 'esc' : 'ground';
  }

  private csiByte(b: number): void {
    if (b >= 0x40 && b <= 0x7e) {
      this.state = 'ground';
      if (this.seq.length <= MAX_SEQUENCE_BYTES) this.csi(this.seq, String.fromCharCode(b));
      return;
    }
    if (b === ESC) { this.state = 'esc'; return; } // an aborted sequence
    if (b < 0x20) return; // C0 controls inside a CSI are executed by the terminal, not collected
    if (this.seq.length <= MAX_SEQUENCE_BYTES) this.seq += String.fromCharCode(b);
  }

  private csi(body: string, final: string): void {
    const prefix = body.length > 0 && body.charCodeAt(0) >= 0x3c && body.charCodeAt(0) <= 0x3f ? body[0]! : '';
    const rest = prefix ? body.slice(1) : body;
    const intermediate = /[\x20-\x2f]+$/.exec(rest)?.[0] ?? '';
    const params = (intermediate ? rest.slice(0, -intermediate.length) : rest).split(';').map((p) => parseInt(p, 10));
    if (prefix === '?' && !intermediate && (final === 'h' || final === 'l')) {
      for (const mode of params) this.privateMode(mode, final === 'h');
    } else if (!prefix && !intermediate && (final === 'h' || final === 'l')) {
      if (params.includes(4)) this.insertMode = final === 'h';
    } else if (!prefix && !intermediate && final === 'r') {
      const top = params[0] || 1;
      const bottom = params[1] || this.rows();
      this.scrollRegion = top > 1 || bottom < this.rows();
    } else if (prefix === '>' && !intermediate && final === 'm') {
      // CSI > 4 ; n m: modifyOtherKeys n (0 or absent: off).
      if (params[0] === 4) this.modifyOtherKeys = (params[1] || 0) > 0;
    } else if (prefix === '>' && !intermediate && final === 'u') {
      this.kittyKeyboardPushes++;
    } else if (prefix === '<' && !intermediate && final === 'u') {
      this.kittyKeyboardPushes = Math.max(0, this.kittyKeyboardPushes - (params[0] || 1));
    } else if (!prefix && intermediate === ' ' && final === 'q') {
      this.cursorStyle = (params[0] || 0) !== 0;
    } else if (!prefix && intermediate === '!' && final === 'p') {
      this.softReset();
    }
  }

  private privateMode(mode: number, set: boolean): void {
    if (Number.isNaN(mode)) return;
    if (ALT_SCREEN_MODES.has(mode)) {
      this.altScreen = set ? mode : 0;
    } else if (mode === 25) {
      this.cursorHidden = !set;
    } else if (mode === 7) {
      this.noWrap = !set;
    } else if (PRIVATE_MODE_RESETS.has(mode)) {
      if (set) this.privateModes.add(mode);
      else this.privateModes.delete(mode);
    }
  }

  // DECSTR: what a soft reset puts back (cursor shown, insert and origin off, region and keypad reset).
  private softReset(): void {
    this.cursorHidden = false;
    this.insertMode = false;
    this.noWrap = false;
    this.scrollRegion = false;
    this.keypadApplication = false;
    this.privateModes.delete(1);
    this.privateModes.delete(6);
  }

  private resetAll(): void {
    this.altScreen = 0;
    this.privateModes.clear();
    this.softReset();
    this.modifyOtherKeys = false;
    this.kittyKeyboardPushes = 0;
    this.cursorStyle = false;
    this.lineDrawing = false;
  }

  /**
   * The bytes that put the terminal back as it was before the attach: the alternate screen left
   * only if the attach is on it, the scroll region reset keeping the cursor where it is, and
   * every mode that was switched on switched off. Always resets the pen and shows the cursor.
   */
  restoreSequence(): string {
    let out = '\x1b[0m';
    if (this.lineDrawing) out += '\x1b(B';
    // Synchronized output first: a terminal holding its drawing would not show the rest.
    if (this.privateModes.has(2026)) out += '\x1b[?2026l';
    if (this.altScreen) out += `\x1b[?${this.altScreen}l`;
    if (this.privateModes.has(6)) out += '\x1b[?6l';
    // DECSTBM homes the cursor: save and restore it around the reset.
    if (this.scrollRegion) out += '\x1b7\x1b[r\x1b8';
    for (const [mode, reset] of PRIVATE_MODE_RESETS) {
      if (mode !== 2026 && mode !== 6 && this.privateModes.has(mode)) out += reset;
    }
    if (this.noWrap) out += '\x1b[?7h';
    if (this.insertMode) out += '\x1b[4l';
    if (this.keypadApplication) out += '\x1b>';
    if (this.modifyOtherKeys) out += '\x1b[>4m';
    if (this.kittyKeyboardPushes > 0) out += `\x1b[<${this.kittyKeyboardPushes}u`;
    if (this.cursorStyle) out += '\x1b[0 q';
    out += '\x1b[?25h';
    return out;
  }
}
