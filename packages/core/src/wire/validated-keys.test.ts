import { describe, expect, it } from 'vitest';
import { ValidatedKeys } from './validated-keys.js';

const N = 5000;
const list = () => BigUint64Array.from({ length: N }, (_, i) => BigInt(i * 3));

describe('ValidatedKeys', () => {
  it('gives one tag per list, a new one when the list changes', () => {
    const v = new ValidatedKeys();
    const a = list();
    const t1 = v.validate(a);
    const t2 = v.validate(a.slice());
    const t3 = v.validate(a.slice());
    expect(t2).toBe(t1 + 1); // the first repeat is when a copy is taken
    expect(t3).toBe(t2);
    const b = list();
    b[N - 1] = b[N - 1]! + 1n;
    expect(v.validate(b)).toBe(t3 + 1);
    expect(v.validate(new BigUint64Array([3n, 4n]))).toBe(-1);
  });
});
