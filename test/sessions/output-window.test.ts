// OutputWindow (issue 18.3): the room an attachment has before its client acknowledges, and the hold
// on the child while the attachment lags, let go after a stall.
import { describe, expect, it, vi } from 'vitest';
import { MAX_OUTPUT_WINDOW_BYTES, MIN_OUTPUT_WINDOW_BYTES, OutputWindow } from '../../src/sessions/output-window';

describe('OutputWindow', () => {
  it('has room for its size, less what was sent and not acknowledged', () => {
    const w = new OutputWindow(64 * 1024);
    expect(w.room).toBe(64 * 1024);
    w.noteSent(40 * 1024);
    expect(w.room).toBe(24 * 1024);
    w.acknowledge(30 * 1024);
    expect(w.room).toBe(54 * 1024);
    expect(w.outstanding).toBe(10 * 1024);
  });

  it('clamps its size, ignores totals that go back, and never counts more than was sent', () => {
    expect(new OutputWindow(1).size).toBe(MIN_OUTPUT_WINDOW_BYTES);
    expect(new OutputWindow(1e12).size).toBe(MAX_OUTPUT_WINDOW_BYTES);
    const w = new OutputWindow(32 * 1024);
    w.noteSent(32 * 1024);
    w.acknowledge(10_000);
    w.acknowledge(5_000);
    expect(w.outstanding).toBe(32 * 1024 - 10_000);
    // A confused client acknowledging more than it got cannot widen the window.
    w.acknowledge(10 * 1024 * 1024);
    expect(w.room).toBe(32 * 1024);
    w.acknowledge(Number.NaN);
    expect(w.room).toBe(32 * 1024);
  });

  it('wakes the pump once an acknowledgement opens it', () => {
    const w = new OutputWindow(16 * 1024);
    w.noteSent(16 * 1024);
    const fn = vi.fn();
    w.onceOpen(fn);
    expect(fn).not.toHaveBeenCalled();
    w.acknowledge(1);
    expect(fn).toHaveBeenCalledTimes(1);
    w.acknowledge(2);
    expect(fn).toHaveBeenCalledTimes(1);
    // Room now: at once.
    w.onceOpen(fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('holds the source past the lag limit, lets go at half of it, and after a stall until the next acknowledgement', () => {
    vi.useFakeTimers();
    try {
      const w = new OutputWindow(16 * 1024);
      const events: string[] = [];
      w.holdSourceWhileBehind({ pause: () => events.push('pause'), resume: () => events.push('resume'), lagLimitBytes: 1000, stallMs: 500 });
      w.noteLag(1000);
      expect(events).toEqual([]);
      w.noteLag(1001);
      w.noteLag(5000);
      expect(events).toEqual(['pause']);
      w.noteLag(600);
      expect(events).toEqual(['pause']);
      w.noteLag(500);
      expect(events).toEqual(['pause', 'resume']);
      // Held again; the client then acknowledges nothing for the stall time: the child goes free.
      w.noteSent(100);
      w.noteLag(2000);
      vi.advanceTimersByTime(499);
      expect(events).toEqual(['pause', 'resume', 'pause']);
      vi.advanceTimersByTime(1);
      expect(events).toEqual(['pause', 'resume', 'pause', 'resume']);
      w.noteLag(9000);
      expect(events).toHaveLength(4);
      // Progress re-arms the hold.
      w.acknowledge(50);
      w.noteLag(9000);
      expect(events).toEqual(['pause', 'resume', 'pause', 'resume', 'pause']);
      w.dispose();
      expect(events.at(-1)).toBe('resume');
      w.noteLag(9000);
      expect(events).toHaveLength(6);
    } finally {
      vi.useRealTimers();
    }
  });
});
