import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
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

describe('ValidatedKeys (the memo of the last long list that passed)', () => {
  it('trusts a shared list (key-list reuse hands the same one to every request) by identity once compared', async () => {
    const { ValidatedKeys } = await import('./validated-keys.js');
    const { sharedKeyLists } = await import('./shared-key-lists.js');
    const v = new ValidatedKeys(16);
    const shared = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i));
    sharedKeyLists.add(shared);
    v.validate(shared.slice());
    const tag = v.validate(shared.slice());
    expect(v.validate(shared)).toBe(tag); // compared once
    shared[50] = 7n; // (its owner never does this; it shows no compare happens any more)
    expect(v.validate(shared)).toBe(tag);
    const other = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i));
    other[50] = 7n;
    expect(codeOf(() => v.validate(other))).toBe(PsErrorCode.KEYS_UNSORTED); // not trusted
  });

  it('does not copy lists that never repeat: each gets a new tag', async () => {
    const { ValidatedKeys } = await import('./validated-keys.js');
    const v = new ValidatedKeys(16);
    const tags = new Set<number>();
    for (let j = 0; j < 4; j++)
      tags.add(v.validate(BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i + j))));
    expect(tags.size).toBe(4);
    expect((v as unknown as { last: unknown }).last).toBeUndefined();
  });

  it('recognises a repeat by content, so a list refilled in place with bad keys still fails', async () => {
    const { ValidatedKeys } = await import('./validated-keys.js');
    const v = new ValidatedKeys(16);
    const keys = BigUint64Array.from({ length: 5000 }, (_, i) => BigInt(i * 2));
    // The first sighting is not copied (lists that never repeat cost no copy); from the second on
    // the list is remembered and keeps its tag.
    const t0 = v.validate(keys);
    const t1 = v.validate(keys);
    expect(t1).not.toBe(t0);
    expect(v.validate(keys)).toBe(t1);
    expect(v.validate(keys.slice())).toBe(t1);
    keys[100] = 1n; // same array object, now unsorted
    expect(codeOf(() => v.validate(keys))).toBe(PsErrorCode.KEYS_UNSORTED);
    keys[100] = 200n;
    expect(v.validate(keys)).toBe(t1);
    keys[4999] = 10_000n; // still sorted, but another list: a new tag
    expect(v.validate(keys)).not.toBe(t1);
    expect(codeOf(() => v.validate(new BigUint64Array([3n, 1n])))).toBe(PsErrorCode.KEYS_UNSORTED);
    expect(v.validate(new BigUint64Array([1n, 3n]))).toBe(-1);
  });
});
