import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { ValidatedKeys } from './validated-keys.js';

const N = 5000;
const list = () => BigUint64Array.from({ length: N }, (_, i) => BigInt(i * 3));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isPsError(err) ? err.code : 'not a PsError';
  }
  return undefined;
}

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

  it('trusts the same array under the same declared tag without checking it again', () => {
    const v = new ValidatedKeys();
    const a = list();
    const t = v.validate(a, 7);
    expect(v.validate(a, 7)).toBe(t);
    // Not compared: an unsampled key broken in place under the old tag is not seen (the contract).
    a[1] = 10n ** 9n;
    expect(v.validate(a, 7)).toBe(t);
    // A new tag takes the full path, which finds the broken order.
    expect(codeOf(() => v.validate(a, 8))).toBe(PsErrorCode.KEYS_UNSORTED);
  });

  it('checks the list again when a sampled key, the array, the tag or a list in between changed', () => {
    const v = new ValidatedKeys();
    const a = list();
    const t = v.validate(a, 1);
    // The last key is one of the 8 samples: changed under the old tag, it is caught.
    a[N - 1] = a[N - 1]! + 1n;
    const changed = v.validate(a, 1);
    expect(changed).toBe(t + 1);
    a[0] = 5n; // sampled, and out of order
    expect(codeOf(() => v.validate(a, 1))).toBe(PsErrorCode.KEYS_UNSORTED);
    const b = list();
    const tb = v.validate(b, 2);
    const c = b.slice();
    // Another array under the same tag: the full path (its first repeat, when a copy is taken).
    expect(v.validate(c, 2)).toBe(tb + 1);
    expect(v.validate(b)).toBe(tb + 1); // compared with that copy: equal
    const other = list().subarray(1);
    const to = v.validate(other);
    expect(to).toBe(tb + 2);
    expect(v.validate(b, 2)).toBe(to + 1); // a list in between: checked again
  });
});
