// A private tmux server as the terminal a person would attach from: one pane, typed into with
// send-keys, read with capture-pane (text, and cells with attributes) and display-message (the
// pane's modes, scroll region and cursor). Each test kills its server in cleanup.
import { execFileSync, spawnSync } from 'node:child_process';

export const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;

/**
 * Fails the test when a program it drives is not installed (never a silent skip): these tests are
 * the issue's acceptance tests, and .ci/run installs every one of them.
 */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: .ci/run installs ${missing.length > 1 ? 'them' : 'it'} (apt-get install ${missing.join(' ')})`);
}

/** What display-message reports about the pane's terminal state (issue 18's check, plus modes; mouse = 1000/1002/1003). */
export const PANE_STATE_FORMAT = [
  'region=#{scroll_region_upper},#{scroll_region_lower}', 'cursor=#{cursor_x},#{cursor_y}', 'alt=#{alternate_on}',
  'cursor_visible=#{cursor_flag}', 'keypad=#{keypad_flag}', 'cursor_keys=#{keypad_cursor_flag}',
  'mouse=#{mouse_standard_flag}#{mouse_button_flag}#{mouse_all_flag}', 'mouse_sgr=#{mouse_sgr_flag}',
  'mouse_utf8=#{mouse_utf8_flag}', 'insert=#{insert_flag}', 'wrap=#{wrap_flag}', 'origin=#{origin_flag}',
].join(' ');

export class TmuxPane {
  private static count = 0;
  readonly socket = `d-attach-test-${process.pid}-${++TmuxPane.count}`;

  /** Starts the server with one rows×cols pane running `command` under sh, env added. */
  /** `history`: lines of scrollback the pane keeps (tmux's default is 2000). */
  constructor(command: string, opts: { rows?: number; cols?: number; env?: NodeJS.ProcessEnv; history?: number } = {}) {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    // The history limit is fixed when a pane is made: set before the session, in the same command list.
    const history = opts.history ? ['start-server', ';', 'set-option', '-g', 'history-limit', String(opts.history), ';'] : [];
    execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...history, 'new-session', '-d', '-s', 'main',
      '-x', String(opts.cols ?? 100), '-y', String(opts.rows ?? 30), 'env', ...env, 'sh', '-c', command]);
    this.tmux('set-option', '-g', 'status', 'off');
    this.tmux('set-option', '-g', 'remain-on-exit', 'on');
  }

  tmux(...args: string[]): string {
    // Scrollback captures run to megabytes.
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  }

  /** Keys as tmux names them ("Enter", "C-c", "Escape") or literal text. */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** Bytes given in hex (0x1c is Ctrl-\). */
  hexKeys(...bytes: string[]): void {
    this.tmux('send-keys', '-t', 'main', '-H', ...bytes);
  }

  /** The visible text (wrapped lines joined with -J when asked). */
  text(join = false): string {
    return this.tmux('capture-pane', '-p', ...(join ? ['-J'] : []), '-t', 'main');
  }

  /** The pane's scrollback and visible text, oldest line first. */
  history(): string {
    return this.tmux('capture-pane', '-p', '-S', '-', '-t', 'main');
  }

  /** The visible cells with their attributes (capture-pane -e), one array of cells per row. */
  cells(): string[][] {
    return parseCaptureWithAttributes(this.tmux('capture-pane', '-p', '-e', '-t', 'main'));
  }

  /** The pane's modes, scroll region and cursor as one line (PANE_STATE_FORMAT). */
  state(): string {
    return this.tmux('display-message', '-p', '-t', 'main', PANE_STATE_FORMAT).trim();
  }

  /** One field of the state line, e.g. field('alt'). */
  field(name: string): string {
    return this.state().split(' ').find((f) => f.startsWith(`${name}=`))!.slice(name.length + 1);
  }

  size(): { rows: number; cols: number } {
    const [rows, cols] = this.tmux('display-message', '-p', '-t', 'main', '#{pane_height} #{pane_width}').trim().split(' ').map(Number);
    return { rows: rows!, cols: cols! };
  }

  /** Runs a new command in the pane (the old one killed). */
  respawn(command: string, env: NodeJS.ProcessEnv = {}): void {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    this.tmux('respawn-pane', '-k', '-t', 'main', 'env', ...vars, 'sh', '-c', command);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
  }
}

/**
 * capture-pane -e output as cells: each printed character with the SGR state in force, the state
 * written as its parameter list from a reset. Trailing blank cells are dropped (a cleared cell and a
 * cell never written look the same; tmux prints one and not the other), unless on a coloured
 * background or in reverse video, where they are visible.
 */
export function parseCaptureWithAttributes(capture: string): string[][] {
  const rows: string[][] = [];
  let sgr = new Map<string, string>();
  for (const line of capture.replace(/\n$/, '').split('\n')) {
    const cells: string[] = [];
    const re = /\x1b\[([0-9;:]*)m|([\s\S])/gu;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line)) !== null) {
      if (m[1] !== undefined) sgr = applySgr(sgr, m[1]);
      else cells.push(`${m[2]}|${[...sgr.entries()].sort().map(([k, v]) => `${k}=${v}`).join(',')}`);
    }
    while (cells.length > 0 && isInvisibleBlank(cells[cells.length - 1]!)) cells.pop();
    rows.push(cells);
  }
  return rows;
}

function isInvisibleBlank(cell: string): boolean {
  return cell.startsWith(' |') && !/(^|,)bg=|reverse=/.test(cell.slice(2));
}

// The SGR parameters tmux writes in captures, as named attributes (enough to compare two captures).
function applySgr(prev: Map<string, string>, params: string): Map<string, string> {
  const next = new Map(prev);
  const list = params === '' ? ['0'] : params.split(';');
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    const [code, ...sub] = p.split(':');
    const n = Number(code);
    if (n === 0) next.clear();
    else if (n === 38 || n === 48 || n === 58) {
      const key = n === 38 ? 'fg' : n === 48 ? 'bg' : 'ul_colour';
      if (sub.length > 0) next.set(key, sub.filter((x) => x !== '').join(':'));
      else if (list[i + 1] === '5') { next.set(key, `5:${list[i + 2]}`); i += 2; }
      else if (list[i + 1] === '2') { next.set(key, `2:${list[i + 2]}:${list[i + 3]}:${list[i + 4]}`); i += 4; }
    } else if (n === 39) next.delete('fg');
    else if (n === 49) next.delete('bg');
    else if (n === 59) next.delete('ul_colour');
    else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) next.set('fg', String(n));
    else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) next.set('bg', String(n));
    else if (n === 4) { if (sub[0] === '0') next.delete('underline'); else next.set('underline', sub[0] ?? '1'); }
    else if (n === 21) next.set('underline', '2');
    else if (n === 24) next.delete('underline');
    else if (n === 22) { next.delete('bold'); next.delete('dim'); }
    else {
      const names: Record<number, [string, boolean]> = {
        1: ['bold', true], 2: ['dim', true], 3: ['italic', true], 5: ['blink', true], 7: ['reverse', true],
        8: ['hidden', true], 9: ['strike', true], 53: ['overline', true], 23: ['italic', false], 25: ['blink', false],
        27: ['reverse', false], 28: ['hidden', false], 29: ['strike', false], 55: ['overline', false],
      };
      const entry = names[n];
      if (entry) {
        if (entry[1]) next.set(entry[0], '1');
        else next.delete(entry[0]);
      }
    }
  }
  return next;
}
