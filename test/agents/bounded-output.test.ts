import { describe, expect, it } from 'vitest';
import { HeadTailCapture, cutLongLines, utf8BoundaryBefore } from '../../src/agents/bounded-output';

describe('head + tail capture', () => {
  it('keeps everything when the stream fits', () => {
    const c = new HeadTailCapture({ headBytes: 10, tailBytes: 10 });
    c.push(Buffer.from('hello\n'));
    c.push(Buffer.from('world\n'));
    expect(c.render()).toEqual({ text: 'hello\nworld\n', truncated: false, totalBytes: 12, omittedBytes: 0, cutLines: 0 });
  });

  it('keeps head and tail of seq 1 100000 with the exact omitted count, in bounded memory', () => {
    const c = new HeadTailCapture({ headBytes: 16, tailBytes: 16 });
    let all = '';
    for (let i = 1; i <= 100000; i++) {
      const line = `${i}\n`;
      all += line;
      c.push(Buffer.from(line));
    }
    const r = c.render();
    expect(r.totalBytes).toBe(Buffer.byteLength(all));
    expect(r.text.startsWith(all.slice(0, 16))).toBe(true);
    expect(r.text.endsWith(all.slice(-16))).toBe(true);
    expect(r.omittedBytes).toBe(Buffer.byteLength(all) - 32);
    expect(r.text).toContain(`[... ${Buffer.byteLength(all) - 32} bytes omitted ...]`);
    expect(r.truncated).toBe(true);
  });

  it('never splits a code point at the head/tail cut and always yields valid UTF-8', () => {
    const c = new HeadTailCapture({ headBytes: 5, tailBytes: 5 });
    const text = 'é'.repeat(50); // 2 bytes each: 5-byte cuts land mid-character
    c.push(Buffer.from(text));
    const r = c.render();
    expect(r.text).not.toContain('\uFFFD');
    expect(r.text.startsWith('éé')).toBe(true);
    expect(r.text.endsWith('éé')).toBe(true);
    const [headText, rest] = r.text.split('\n[... ');
    const tailText = rest.split(' ...]\n')[1];
    expect(r.omittedBytes + Buffer.byteLength(headText) + Buffer.byteLength(tailText)).toBe(100);
  });

  it('cuts long lines at the limit with a marker, at a code point boundary', () => {
    const line = `${'x'.repeat(2047)}€tail`; // € is 3 bytes straddling byte 2048
    const r = cutLongLines(Buffer.from(`${line}\nshort\n`), 2048);
    expect(r.cutLines).toBe(1);
    expect(r.text).toBe(`${'x'.repeat(2047)}[... line cut: ${Buffer.byteLength(line) - 2047} more bytes]\nshort\n`);
  });

  it('finds code point boundaries', () => {
    const b = Buffer.from('a€b'); // 61 e2 82 ac 62
    expect(utf8BoundaryBefore(b, 2)).toBe(1);
    expect(utf8BoundaryBefore(b, 3)).toBe(1);
    expect(utf8BoundaryBefore(b, 4)).toBe(4);
    expect(utf8BoundaryBefore(b, 1)).toBe(1);
  });
});

describe('gaps (bytes a slow reader missed)', () => {
  it('counts skipped bytes as omitted and never splices across the gap', () => {
    const c = new HeadTailCapture({ headBytes: 4, tailBytes: 4 });
    c.push(Buffer.from('ab'));
    c.skip(10); // head stops at "ab"
    c.push(Buffer.from('cdefgh'));
    const r = c.render();
    expect(r.totalBytes).toBe(18);
    expect(r.text).toBe('ab\n[... 12 bytes omitted ...]\nefgh');
    expect(r.omittedBytes).toBe(12);
  });
});
