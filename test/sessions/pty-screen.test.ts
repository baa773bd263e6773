// PtyScreen: a snapshot redraws the same screen (text, alternate buffer, cursor) on a fresh
// terminal; it reflects exactly the bytes fed before it; resizes apply in order; the queue is bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { Terminal } from '@xterm/headless';
import { PtyScreen } from '../../src/sessions/pty-screen';
import { waitFor } from '../helpers/daemon';

const screens: PtyScreen[] = [];
afterEach(() => {
  for (const s of screens.splice(0)) s.dispose();
});

function makeScreen(rows = 10, cols = 40, extra: { maxPendingBytes?: number; idleMs?: number } = {}): PtyScreen {
  const s = new PtyScreen({ rows, cols, ...extra });
  screens.push(s);
  return s;
}

/** Plays bytes into a fresh emulator (what a client's terminal would show) and reads it back. */
async function render(bytes: Buffer, rows: number, cols: number) {
  const t = new Terminal({ rows, cols, scrollback: 0, allowProposedApi: true, logLevel: 'off' });
  t.write('garbage that the snapshot must clear\r\nmore garbage');
  await new Promise<void>((r) => t.write(bytes, r));
  const b = t.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < t.rows; i++) lines.push(b.getLine(b.baseY + i)!.translateToString(true));
  const out = { type: b.type, x: b.cursorX, y: b.cursorY, lines };
  t.dispose();
  return out;
}

describe('PtyScreen', () => {
  it('renders an alternate-screen program so a fresh terminal shows the same screen', async () => {
    const s = makeScreen();
    s.feed(Buffer.from('$ vim notes.txt\r\n'));
    s.feed(Buffer.from('\x1b[?1049h\x1b[H\x1b[2Jhello from vim\r\n~\r\n~\x1b[10;1H"notes.txt" [New]\x1b[1;15H'));
    const snap = await s.snapshot();
    expect(snap.offset).toBe(s.fedBytes);
    const shown = await render(snap.bytes, 10, 40);
    expect(shown.type).toBe('alternate');
    expect(shown.lines[0]).toBe('hello from vim');
    expect(shown.lines[9]).toBe('"notes.txt" [New]');
    expect(shown.lines.join('\n')).not.toContain('garbage');
    expect({ x: shown.x, y: shown.y }).toEqual({ x: 14, y: 0 });
  });

  it('reflects exactly the bytes fed before the snapshot, at their offset', async () => {
    const s = makeScreen();
    s.feed(Buffer.from('first'));
    const pending = s.snapshot();
    s.feed(Buffer.from(' second'));
    const snap = await pending;
    expect(snap.offset).toBe(5);
    expect((await render(snap.bytes, 10, 40)).lines[0]).toBe('first');
    const later = await s.snapshot();
    expect(later.offset).toBe(12);
    expect((await render(later.bytes, 10, 40)).lines[0]).toBe('first second');
  });

  it('applies resizes in output order', async () => {
    const s = makeScreen(10, 40);
    s.feed(Buffer.from('x'.repeat(30)));
    s.resize(5, 20);
    s.feed(Buffer.from(`\r\n${'y'.repeat(25)}`));
    const shown = await render((await s.snapshot()).bytes, 5, 20);
    // Output after the resize wraps at the new width.
    expect(shown.lines).toContain('y'.repeat(20));
    expect(shown.lines).toContain('y'.repeat(5));
  });

  it('parses while the session is quiet, so nothing is left for the attach', async () => {
    const s = makeScreen(10, 40, { idleMs: 5 });
    s.feed(Buffer.from('quiet output'));
    expect(s.queuedBytes).toBe(12);
    await waitFor(() => s.queuedBytes === 0, 'the idle parse');
    expect((await render((await s.snapshot()).bytes, 10, 40)).lines[0]).toBe('quiet output');
  });

  it('gathers tiny writes into few queue items and renders them in order', async () => {
    const s = makeScreen(10, 40, { idleMs: 60_000 });
    const text = Array.from({ length: 5000 }, (_, i) => `${i % 10}`).join('');
    for (const ch of `start\r\n${text}\r\nend`) s.feed(Buffer.from(ch));
    s.resize(10, 50);
    s.feed(Buffer.from('!'));
    expect(s.queuedItems).toBeLessThan(5);
    const shown = await render((await s.snapshot()).bytes, 10, 50);
    expect(shown.lines.join('\n')).toMatch(/end!$/m);
  });

  it('keeps at most maxPendingBytes queued, skipping the oldest output', async () => {
    const s = makeScreen(10, 40, { maxPendingBytes: 100, idleMs: 60_000 });
    for (let i = 0; i < 50; i++) s.feed(Buffer.from(`line ${String(i).padStart(3, '0')}\r\n`));
    expect(s.queuedBytes).toBeLessThanOrEqual(100);
    expect(s.skippedBytes).toBeGreaterThan(0);
    const shown = await render((await s.snapshot()).bytes, 10, 40);
    expect(shown.lines.filter((l) => l !== '').at(-1)).toBe('line 049');
    expect(shown.lines).not.toContain('line 000');
  });
});
