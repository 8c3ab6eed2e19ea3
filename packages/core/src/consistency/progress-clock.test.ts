import { describe, expect, it } from 'vitest';
import {
  EMPTY_PROGRESS_CLOCK,
  isIteration,
  type ProgressClock,
  progressClockFromWire,
  progressClockToWire,
  sameEntries,
  slowestOf,
  stalenessOf,
} from './progress-clock.js';

const clock = (finished: Record<string, number>, version = 1): ProgressClock => ({ version, finished });

describe('progress clock', () => {
  it('gives the slowest entry and the gap to the fastest', () => {
    const c = clock({ a: 4, b: 7, c: 5 });
    expect(slowestOf(c)).toBe(4);
    expect(stalenessOf(c)).toBe(3);
  });

  it('has no slowest worker and no gap without entries, and no gap with one', () => {
    expect(slowestOf(EMPTY_PROGRESS_CLOCK)).toBe(Number.POSITIVE_INFINITY);
    expect(stalenessOf(EMPTY_PROGRESS_CLOCK)).toBe(0);
    expect(stalenessOf(clock({ a: 9 }))).toBe(0);
  });

  it('compares entries, not versions', () => {
    expect(sameEntries(clock({ a: 1, b: 2 }, 1), clock({ b: 2, a: 1 }, 5))).toBe(true);
    expect(sameEntries(clock({ a: 1, b: 2 }), clock({ a: 1, b: 3 }))).toBe(false);
    expect(sameEntries(clock({ a: 1, b: 2 }), clock({ a: 1 }))).toBe(false);
    expect(sameEntries(clock({ a: 1 }), clock({ b: 1 }))).toBe(false);
  });

  it('round-trips through its wire form', () => {
    const c = clock({ 'worker-1': 3, 'worker-2': 0 }, 12);
    const back = progressClockFromWire(progressClockToWire(c));
    expect(back.version).toBe(12);
    expect({ ...back.finished }).toEqual({ 'worker-1': 3, 'worker-2': 0 });
  });

  it('keeps a worker id of __proto__ as data', () => {
    const back = progressClockFromWire({ version: 1, finished: [['__proto__', 2]] });
    expect(Object.keys(back.finished)).toEqual(['__proto__']);
    expect(slowestOf(back)).toBe(2);
  });

  it.each([
    [null, 'not a progress clock'],
    [{ version: -1, finished: [] }, 'bad clock version'],
    [{ version: 1.5, finished: [] }, 'bad clock version'],
    [{ version: 1, finished: {} }, 'at most'],
    [{ version: 1, finished: [['a', -1]] }, 'a clock entry'],
    [{ version: 1, finished: [['a', 2 ** 31]] }, 'a clock entry'],
    [{ version: 1, finished: [[3, 1]] }, 'a clock entry'],
    [{ version: 1, finished: [['a']] }, 'a clock entry'],
  ])('refuses the malformed clock %j', (wire, message) => {
    expect(() => progressClockFromWire(wire)).toThrow(message);
  });

  it('takes iterations from 0 to 2^31 − 1', () => {
    expect([0, 1, 2 ** 31 - 1].map(isIteration)).toEqual([true, true, true]);
    expect([-1, 0.5, 2 ** 31, Number.NaN, '1'].map(isIteration)).toEqual([false, false, false, false, false]);
  });
});
