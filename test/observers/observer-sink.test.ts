// Unit tests of the observer queue: DROP_OLDEST keeps the newest, BLOCK overshoots to twice its
// capacity before dropping, every loss is counted and placed where it happened.
import { describe, expect, it } from 'vitest';
import { ObserverSink } from '../../src/observers/observer-sink';

function drain(sink: ObserverSink<number>): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let e = sink.take(); e; e = sink.take()) {
    out.push([e.event, e.seq, e.missedBefore]);
    sink.noteDelivered();
  }
  return out;
}

describe('ObserverSink', () => {
  it('DROP_OLDEST: capacity 2, five events and no reader keep the two newest, three missed before them', () => {
    const sink = new ObserverSink<number>(2, 'drop-oldest');
    for (let i = 1; i <= 5; i++) sink.offer(i);
    expect(sink.counts()).toEqual({ missed: 3, delivered: 0, pending: 2 });
    expect(drain(sink)).toEqual([[4, 4, 3], [5, 5, 0]]);
    expect(sink.counts()).toEqual({ missed: 3, delivered: 2, pending: 0 });
  });

  it('BLOCK: full at capacity, queues up to twice it, then drops the oldest and counts it', () => {
    const sink = new ObserverSink<number>(2, 'block');
    sink.offer(1);
    expect(sink.full).toBe(false);
    sink.offer(2);
    expect(sink.full).toBe(true);
    sink.offer(3);
    sink.offer(4);
    expect(sink.counts()).toEqual({ missed: 0, delivered: 0, pending: 4 });
    sink.offer(5);
    expect(sink.counts()).toEqual({ missed: 1, delivered: 0, pending: 4 });
    expect(drain(sink)).toEqual([[2, 2, 1], [3, 3, 0], [4, 4, 0], [5, 5, 0]]);
    expect(sink.lowWater).toBe(true);
  });

  it('counts events offered while not accepting (disconnected) and tells the next queued one', () => {
    const sink = new ObserverSink<number>(4, 'drop-oldest');
    sink.offer(1);
    sink.offer(2, false);
    sink.offer(3, false);
    expect(sink.trailingMissed).toBe(2);
    sink.offer(4);
    expect(sink.trailingMissed).toBe(0);
    expect(drain(sink)).toEqual([[1, 1, 0], [4, 4, 2]]);
    expect(sink.counts()).toEqual({ missed: 2, delivered: 2, pending: 0 });
  });

  it('a gap made by dropping moves onto the next event, and to the trailing count when none is left', () => {
    const sink = new ObserverSink<number>(1, 'drop-oldest');
    sink.offer(1, false);
    sink.offer(2);
    sink.offer(3);
    // 1 was never queued, 2 gave way to 3: both are missed just before 3.
    expect(drain(sink)).toEqual([[3, 3, 2]]);
  });

  it('stays bounded: a million events in a DROP_OLDEST sink of 16 keep 16', () => {
    const sink = new ObserverSink<number>(16, 'drop-oldest');
    for (let i = 0; i < 1_000_000; i++) sink.offer(i);
    expect(sink.length).toBe(16);
    expect(sink.counts().missed).toBe(1_000_000 - 16);
    expect(drain(sink)[0]).toEqual([1_000_000 - 16, 1_000_000 - 15, 1_000_000 - 16]);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new ObserverSink<number>(0, 'block')).toThrow(RangeError);
  });
});
