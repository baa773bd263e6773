// CPU %/RSS readings (src/proc/usage.ts): the stat parser, and readings of
// this test's own process and of a pid that does not exist.
import { describe, expect, it } from 'vitest';
import { UsageReader, parseStatTimes } from '../../src/proc/usage';

describe('process usage', () => {
  it('parses utime+stime, start time and rss from a stat line whose command holds spaces and parentheses', () => {
    const line = '1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765 123456789 4321 18446744073709551615';
    expect(parseStatTimes(line)).toEqual({ cpuTicks: 300, startTicks: 98765, rssPages: 4321 });
    expect(parseStatTimes('garbage')).toBeNull();
    expect(parseStatTimes('1 (x) S 1 2')).toBeNull();
  });

  it('reads a live process, reuses a fresh reading, and leaves out a pid that is gone', () => {
    const reader = new UsageReader();
    const first = reader.read([process.pid, 2 ** 22 + 12345]);
    expect(first.has(2 ** 22 + 12345)).toBe(false);
    const mine = first.get(process.pid)!;
    expect(mine.memory).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(mine.memory - process.memoryUsage.rss())).toBeLessThan(64 * 1024 * 1024);
    expect(mine.cpu).toBeGreaterThanOrEqual(0);
    expect(reader.read([process.pid]).get(process.pid)).toBe(mine);
    expect(reader.read([]).size).toBe(0);
  });
});
