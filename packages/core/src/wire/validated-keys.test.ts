import { describe, expect, it } from 'vitest';
import { sharedKeyLists } from './shared-key-lists.js';
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

  it('checks a short list every time, unless key-list reuse holds it (then once, by identity)', () => {
    const v = new ValidatedKeys();
    const plain = BigUint64Array.from([1n, 5n, 9n]);
    expect(v.validate(plain)).toBe(-1);
    plain[2] = 2n; // changed in place: caught, since a plain short list is checked every time
    expect(() => v.validate(plain)).toThrow(/PS_ERR_KEYS_UNSORTED|order|increasing/);
    const held = BigUint64Array.from([1n, 5n, 9n]);
    sharedKeyLists.add(held);
    expect(v.validate(held)).toBe(-1);
    // Owners never change a shared list; were it changed, the identity is what is trusted.
    held[2] = 2n;
    expect(v.validate(held)).toBe(-1);
    // A shared list not yet checked here is checked once (an unsorted one refused).
    const other = BigUint64Array.from([7n, 3n]);
    sharedKeyLists.add(other);
    expect(() => v.validate(other)).toThrow(/PS_ERR_KEYS_UNSORTED|order|increasing/);
  });
});
