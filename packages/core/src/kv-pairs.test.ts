import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from './errors.js';
import { validateKeys, validateKVPairs } from './kv-pairs.js';

const codeOf = (fn: () => void) => {
  try {
    fn();
  } catch (e) {
    return isPsError(e) ? e.code : 'not a PsError';
  }
  return 'no error';
};

describe('validateKVPairs', () => {
  it('accepts strictly increasing keys with matching values', () => {
    expect(
      codeOf(() =>
        validateKVPairs({ keys: new BigUint64Array([1n, 5n, 2n ** 64n - 1n]), vals: new Float32Array(6) }),
      ),
    ).toBe('no error');
  });
  it('gives each defect its own code', () => {
    expect(codeOf(() => validateKeys(new BigUint64Array([3n, 2n])))).toBe(PsErrorCode.KEYS_UNSORTED);
    expect(codeOf(() => validateKeys(new BigUint64Array([2n, 2n])))).toBe(PsErrorCode.KEYS_DUPLICATE);
    // Same low word, higher high word: sorted; same high word, lower low word: unsorted.
    expect(codeOf(() => validateKeys(new BigUint64Array([(1n << 32n) + 5n, (2n << 32n) + 1n])))).toBe(
      'no error',
    );
    expect(codeOf(() => validateKeys(new BigUint64Array([(1n << 32n) + 5n, (1n << 32n) + 1n])))).toBe(
      PsErrorCode.KEYS_UNSORTED,
    );
    const keys = new BigUint64Array([1n, 2n, 3n]);
    expect(codeOf(() => validateKVPairs({ keys, vals: new Float32Array(4) }))).toBe(PsErrorCode.VALS_LENGTH);
    expect(codeOf(() => validateKVPairs({ keys, vals: new Float32Array(4), lens: new Int32Array(2) }))).toBe(
      PsErrorCode.LENS_LENGTH,
    );
    expect(
      codeOf(() => validateKVPairs({ keys, vals: new Float32Array(4), lens: Int32Array.from([1, 1, 1]) })),
    ).toBe(PsErrorCode.LENS_SUM);
    expect(
      codeOf(() => validateKVPairs({ keys, vals: new Float32Array(2), lens: Int32Array.from([3, -1, 0]) })),
    ).toBe(PsErrorCode.LENS_LENGTH);
    expect(codeOf(() => validateKVPairs({ keys, vals: new Int32Array(3) as unknown as Float32Array }))).toBe(
      PsErrorCode.DTYPE,
    );
  });
  it('agrees with a BigInt reference on random key lists (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 30 }), (list) => {
        const keys = BigUint64Array.from(list);
        let expected = 'no error';
        for (let i = 1; i < list.length; i++) {
          if (list[i]! === list[i - 1]!) {
            expected = PsErrorCode.KEYS_DUPLICATE;
            break;
          }
          if (list[i]! < list[i - 1]!) {
            expected = PsErrorCode.KEYS_UNSORTED;
            break;
          }
        }
        expect(codeOf(() => validateKeys(keys))).toBe(expected);
      }),
    );
  });
});
