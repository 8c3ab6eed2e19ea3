import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { IterationSum } from './iteration-sum.js';

const kv = (keys: number[], vals: number[]) => ({
  keys: BigUint64Array.from(keys.map(BigInt)),
  vals: Float32Array.from(vals),
});

describe('IterationSum', () => {
  it('sums sparse pushes over the union of their keys, in key order', () => {
    const s = new IterationSum();
    s.add(kv([1, 5, 9], [1, 2, 3]));
    s.add(kv([0, 5, 10], [10, 20, 30]));
    s.add(kv([9], [0.5]));
    const r = s.result();
    expect([...r.keys]).toEqual([0n, 1n, 5n, 9n, 10n]);
    expect([...r.vals]).toEqual([10, 1, 22, 3.5, 30]);
    expect(r.vals).toBeInstanceOf(Float32Array);
    expect(s.count).toBe(3);
    expect(s.size).toBe(5);
  });

  it('adds pushes of the same keys in place, width 2', () => {
    const s = new IterationSum();
    for (let w = 1; w <= 3; w++) s.add(kv([2, 4], [w, -w, 10 * w, 0]));
    const r = s.result();
    expect([...r.keys]).toEqual([2n, 4n]);
    expect([...r.vals]).toEqual([6, -6, 60, 0]);
  });

  it('counts empty pushes and keeps float64 values as float64', () => {
    const s = new IterationSum();
    s.add({ keys: new BigUint64Array(0), vals: new Float32Array(0) });
    s.add({ keys: BigUint64Array.of(3n), vals: Float64Array.of(0.1) });
    s.add({ keys: BigUint64Array.of(3n), vals: Float64Array.of(0.2) });
    const r = s.result();
    expect(s.count).toBe(3);
    expect(r.vals).toBeInstanceOf(Float64Array);
    expect(r.vals[0]).toBe(0.1 + 0.2);
  });

  it('sums in float64 before rounding to float32 once', () => {
    const s = new IterationSum();
    s.add(kv([1], [1e8]));
    s.add(kv([1], [1]));
    s.add(kv([1], [-1e8]));
    expect(s.result().vals[0]).toBe(1);
  });

  it('refuses lens and a change of width with PS_ERR_SYNC, leaving the sum as it was', () => {
    const s = new IterationSum();
    s.add(kv([1], [1]));
    let err: unknown;
    try {
      s.add({ keys: BigUint64Array.of(1n), vals: Float32Array.of(1, 2), lens: Int32Array.of(2) });
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.SYNC)).toBe(true);
    expect(() => s.add(kv([2], [1, 2]))).toThrow(/width|values per key/);
    expect([...s.result().vals]).toEqual([1]);
    expect(s.count).toBe(1);
  });

  it('gives fresh arrays: a result does not change with later pushes', () => {
    const s = new IterationSum();
    const a = kv([1, 2], [1, 1]);
    s.add(a);
    const r1 = s.result();
    s.add(kv([1, 2], [1, 1]));
    expect([...r1.vals]).toEqual([1, 1]);
    expect([...a.vals]).toEqual([1, 1]);
    expect([...s.result().vals]).toEqual([2, 2]);
  });
});
