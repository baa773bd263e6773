// Checks a tee's output against the stream it copied: data bytes must be the stream's bytes in
// order, each marker must stand exactly where its N bytes went missing.
import { expect } from 'vitest';

const MARKER = /\n\[running-process tee missed (\d+) bytes\]\n/g;

/** Stream bytes drawn from a-z only, so a marker can never appear by chance. */
export function letters(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = 97 + (x % 26);
  }
  return b;
}

/**
 * Walks output: returns the stream bytes it accounts for (written + missed by marker). Fails the
 * test when a data run differs from the stream at its position.
 */
export function checkAgainstStream(output: Buffer, stream: Buffer): { written: number; missedByMarkers: number; markers: number } {
  const text = output.toString('latin1');
  let pos = 0;
  let last = 0;
  let written = 0;
  let missedByMarkers = 0;
  let markers = 0;
  const data = (from: number, to: number) => {
    const run = output.subarray(from, to);
    if (run.length === 0) return;
    expect(stream.subarray(pos, pos + run.length).equals(run), `bytes at stream offset ${pos}`).toBe(true);
    pos += run.length;
    written += run.length;
  };
  for (const m of text.matchAll(MARKER)) {
    data(last, m.index);
    const n = Number(m[1]);
    expect(n).toBeGreaterThan(0);
    pos += n;
    missedByMarkers += n;
    markers++;
    last = m.index + m[0].length;
  }
  data(last, output.length);
  return { written, missedByMarkers, markers };
}
