import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SparseDataset, validateDataset } from './dataset.js';
import { featureBucket, hashText, tokenize } from './hash-features.js';

function rowIndices(ds: SparseDataset, r: number): number[] {
  return Array.from(ds.indices.subarray(ds.indptr[r]!, ds.indptr[r + 1]!));
}

function rowNormSq(ds: SparseDataset, r: number): number {
  let s = 0;
  for (let k = ds.indptr[r]!; k < ds.indptr[r + 1]!; k++) s += ds.values[k]! ** 2;
  return s;
}

describe('tokenize', () => {
  it('lower-cases, strips HTML tags and keeps letters, digits and inner apostrophes', () => {
    expect(tokenize("Great film!<br /><br />I DIDN'T expect 10/10... 'Really'")).toEqual([
      'great',
      'film',
      'i',
      "didn't",
      'expect',
      '10',
      '10',
      'really',
    ]);
  });

  it('keeps non-ASCII letters and maps a typographic apostrophe to an ASCII one', () => {
    expect(tokenize('Café naïve — l’été 日本語 x😀y')).toEqual([
      'café',
      'naïve',
      "l'été",
      '日本語',
      'x',
      'y',
    ]);
  });

  it('treats a "<" that does not open a tag as a separator', () => {
    expect(tokenize('i <3 it; 2<5')).toEqual(['i', '3', 'it', '2', '5']);
    expect(tokenize('')).toEqual([]);
    expect(tokenize(" '' -- ")).toEqual([]);
  });
});

describe('featureBucket', () => {
  it('is MurmurHash3 x86_32 of the UTF-8 bytes, masked to the low bits', () => {
    // reference values of MurmurHash3_x86_32 with seed 0
    expect(featureBucket('', 32)).toBe(0);
    expect(featureBucket('hello', 32)).toBe(0x248bfa47);
    expect(featureBucket('hello', 20)).toBe(0x248bfa47 & 0xfffff);
    expect(() => featureBucket('x', 0)).toThrow(RangeError);
    expect(() => featureBucket('x', 33)).toThrow(RangeError);
  });
});

describe('hashText', () => {
  it('hashes unigrams and bigrams to the buckets featureBucket gives, binary then L2-normalised', () => {
    const ds = hashText(['Hello world, hello!'], Uint8Array.of(1), { bits: 18 });
    const expected = [
      ...new Set(['hello', 'world', 'hello world', 'world hello'].map((f) => featureBucket(f, 18))),
    ];
    expected.sort((a, b) => a - b);
    expect(rowIndices(ds, 0)).toEqual(expected);
    expect(Array.from(ds.values)).toEqual(expected.map(() => Math.fround(1 / Math.sqrt(expected.length))));
    expect(ds.features).toBe(2 ** 18);
    expect(ds.labels).toEqual(Uint8Array.of(1));
  });

  it('without bigrams hashes unigrams only; the seed changes the buckets', () => {
    const ds = hashText(['a b a'], Uint8Array.of(0), { bits: 20, bigrams: false });
    expect(rowIndices(ds, 0)).toEqual([featureBucket('a'), featureBucket('b')].sort((x, y) => x - y));
    const seeded = hashText(['a b a'], Uint8Array.of(0), { bits: 20, bigrams: false, seed: 7 });
    expect(rowIndices(seeded, 0)).toEqual(
      [featureBucket('a', 20, 7), featureBucket('b', 20, 7)].sort((x, y) => x - y),
    );
    expect(rowIndices(seeded, 0)).not.toEqual(rowIndices(ds, 0));
  });

  it('gives an empty document an empty row and keeps row order and labels', () => {
    const ds = hashText(['one', '', '<br />', 'two three'], Uint8Array.of(1, 0, 1, 0), { name: 'x' });
    validateDataset(ds);
    expect(ds.name).toBe('x');
    expect(Array.from(ds.indptr)).toEqual([0, 1, 1, 1, 4]);
    expect(Array.from(ds.labels)).toEqual([1, 0, 1, 0]);
  });

  it('rejects bad bits, mismatched labels and labels that are not 0/1', () => {
    expect(() => hashText(['a'], Uint8Array.of(1), { bits: 0 })).toThrow(RangeError);
    expect(() => hashText(['a'], Uint8Array.of(1, 0))).toThrow(/labels.length/);
    expect(() => hashText(['a'], Uint8Array.of(3))).toThrow(/not 0 or 1/);
  });

  it('property: every row of any text has sorted unique in-range indices and unit norm', () => {
    const text = fc.array(
      fc.oneof(
        fc.constantFrom(
          'the',
          'The',
          'film',
          "don't",
          '<br />',
          '<b>',
          ' ',
          '  ',
          '...',
          '10',
          'é',
          '日本',
          '😀',
        ),
        fc.string({ maxLength: 6 }),
        fc.string({ unit: 'grapheme', maxLength: 4 }),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(
        fc.array(
          text.map((parts) => parts.join(' ')),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 24 }),
        (texts, bits) => {
          const ds = hashText(texts, new Uint8Array(texts.length), { bits });
          validateDataset(ds);
          for (let r = 0; r < ds.rows; r++) {
            const nnz = ds.indptr[r + 1]! - ds.indptr[r]!;
            const tokens = tokenize(texts[r]!);
            expect(nnz > 0).toBe(tokens.length > 0);
            if (nnz > 0) expect(rowNormSq(ds, r)).toBeCloseTo(1, 5);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
