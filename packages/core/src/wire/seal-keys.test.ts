// sealKeys: a list validated once and trusted by identity afterwards by a validation memo;
// lists that are not sealed keep their checks. End to end: test/seal-keys.test.ts.
import { describe, expect, it } from 'vitest';
import { PsError, PsErrorCode } from '../errors.js';
import { sealKeys } from './seal-keys.js';
import { ValidatedKeys } from './validated-keys.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof PsError ? err.code : 'not a PsError';
  }
  return undefined;
}
const range = (n: number, from = 0) => BigUint64Array.from({ length: n }, (_, i) => BigInt(from + i));

describe('sealKeys', () => {
  it('validates once, returns the same array, and refuses unsorted or duplicate keys', () => {
    const keys = range(10);
    expect(sealKeys(keys)).toBe(keys);
    expect(sealKeys(keys)).toBe(keys);
    expect(codeOf(() => sealKeys(new BigUint64Array([3n, 1n])))).toBe(PsErrorCode.KEYS_UNSORTED);
    expect(codeOf(() => sealKeys(new BigUint64Array([1n, 1n])))).toBe(PsErrorCode.KEYS_DUPLICATE);
  });

  it('gives a sealed long list one tag while it repeats, with no copy, and never an older tag', () => {
    const v = new ValidatedKeys(16);
    const sealed = sealKeys(range(100));
    const t1 = v.validate(sealed);
    expect(v.validate(sealed)).toBe(t1);
    expect(v.validate(sealed)).toBe(t1);
    expect((v as unknown as { last: unknown }).last).toBeUndefined();
    // A copy is not sealed: validated by content, with new tags (the memo keeps a copy of an
    // unsealed list from its second sighting on, and its tag from then).
    const copy = sealed.slice();
    const t2a = v.validate(copy);
    const t2 = v.validate(copy);
    expect(new Set([t1, t2a, t2]).size).toBe(3);
    expect(v.validate(copy)).toBe(t2);
    // Back to the sealed list: a tag of its own, not t1 (another list held the memo since).
    const t3 = v.validate(sealed);
    expect(new Set([t1, t2a, t2, t3]).size).toBe(4);
    expect(v.validate(sealed)).toBe(t3);
    // ...and the unsealed list after it is not taken for the sealed one.
    const t4 = v.validate(copy);
    expect(t4).not.toBe(t3);
    const bad = copy.slice();
    bad[50] = 7n;
    expect(codeOf(() => v.validate(bad))).toBe(PsErrorCode.KEYS_UNSORTED);
    expect(v.validate(sealKeys(range(8)))).toBe(-1); // short lists carry no tag
  });
});
