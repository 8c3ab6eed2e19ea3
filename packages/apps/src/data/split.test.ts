import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SparseDataset, validateDataset } from './dataset.js';
import { type ShardMode, shard, takeRows, trainTestSplit } from './split.js';

/** A data set whose row r holds the single entry (index r, value r + 0.5) and label r % 2, so rows can be traced. */
function traceable(rows: number): SparseDataset {
  const indptr = new Int32Array(rows + 1);
  const indices = new Uint32Array(rows);
  const values = new Float32Array(rows);
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    indptr[r + 1] = r + 1;
    indices[r] = r;
    values[r] = r + 0.5;
    labels[r] = r % 2;
  }
  return { name: 'trace', rows, indptr, indices, values, labels, features: Math.max(rows, 1) };
}

/** The source row numbers of a data set built from `traceable`, checking each row was copied whole. */
function origin(ds: SparseDataset): number[] {
  validateDataset(ds);
  const out: number[] = [];
  for (let r = 0; r < ds.rows; r++) {
    expect(ds.indptr[r + 1]! - ds.indptr[r]!).toBe(1);
    const src = ds.indices[ds.indptr[r]!]!;
    expect(ds.values[ds.indptr[r]!]).toBe(src + 0.5);
    expect(ds.labels[r]).toBe(src % 2);
    out.push(src);
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

describe('takeRows', () => {
  it('copies the given rows in order, repeats allowed, and rejects out-of-range rows', () => {
    const ds = traceable(5);
    const sub = takeRows(ds, [4, 0, 4], 'sub');
    expect(origin(sub)).toEqual([4, 0, 4]);
    expect(sub.name).toBe('sub');
    expect(sub.features).toBe(ds.features);
    expect(() => takeRows(ds, [5], 'bad')).toThrow(RangeError);
    expect(() => takeRows(ds, [1.5], 'bad')).toThrow(RangeError);
  });
});

describe('trainTestSplit', () => {
  it('is deterministic for a seed, differs across seeds, and names its parts', () => {
    const ds = traceable(100);
    const a = trainTestSplit(ds, { seed: 42 });
    const b = trainTestSplit(ds, { seed: 42 });
    const c = trainTestSplit(ds, { seed: 43 });
    expect(origin(a.test)).toEqual(origin(b.test));
    expect(origin(a.train)).toEqual(origin(b.train));
    expect(origin(a.test)).not.toEqual(origin(c.test));
    expect(a.train.name).toBe('trace/train');
    expect(a.test.name).toBe('trace/test');
  });

  it('puts round(rows * testFraction) rows in test, disjoint from train, covering all rows', () => {
    const ds = traceable(101);
    const { train, test } = trainTestSplit(ds, { seed: 1, testFraction: 0.3 });
    expect(test.rows).toBe(30);
    expect(train.rows).toBe(71);
    const tr = origin(train);
    const te = origin(test);
    expect(tr.filter((r) => te.includes(r))).toEqual([]);
    expect(sorted([...tr, ...te])).toEqual(range(101));
    expect(tr).not.toEqual(sorted(tr)); // shuffled by default
  });

  it('with shuffle: false keeps each part in source order, same membership as shuffled', () => {
    const ds = traceable(50);
    const shuffled = trainTestSplit(ds, { seed: 9 });
    const ordered = trainTestSplit(ds, { seed: 9, shuffle: false });
    expect(origin(ordered.test)).toEqual(sorted(origin(shuffled.test)));
    expect(origin(ordered.train)).toEqual(sorted(origin(shuffled.train)));
  });

  it('handles the edge fractions and rejects a fraction outside [0, 1]', () => {
    const ds = traceable(10);
    expect(trainTestSplit(ds, { seed: 0, testFraction: 0 }).test.rows).toBe(0);
    expect(trainTestSplit(ds, { seed: 0, testFraction: 1 }).train.rows).toBe(0);
    expect(() => trainTestSplit(ds, { seed: 0, testFraction: 1.5 })).toThrow(RangeError);
    expect(() => trainTestSplit(ds, { seed: 0, testFraction: Number.NaN })).toThrow(RangeError);
  });

  it('property: train and test always partition the rows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (rows, testFraction, seed) => {
          const { train, test } = trainTestSplit(traceable(rows), { seed, testFraction });
          expect(test.rows).toBe(Math.round(rows * testFraction));
          expect(sorted([...origin(train), ...origin(test)])).toEqual(range(rows));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('shard', () => {
  it('gives contiguous blocks or strided rows', () => {
    const ds = traceable(10);
    expect(origin(shard(ds, 0, 3))).toEqual([0, 1, 2]);
    expect(origin(shard(ds, 1, 3))).toEqual([3, 4, 5]);
    expect(origin(shard(ds, 2, 3))).toEqual([6, 7, 8, 9]);
    expect(origin(shard(ds, 1, 3, 'strided'))).toEqual([1, 4, 7]);
    expect(origin(shard(ds, 0, 3, 'strided'))).toEqual([0, 3, 6, 9]);
    expect(shard(ds, 2, 3).name).toBe('trace[2/3]');
  });

  it('rejects a bad rank or count', () => {
    const ds = traceable(4);
    expect(() => shard(ds, 3, 3)).toThrow(RangeError);
    expect(() => shard(ds, -1, 3)).toThrow(RangeError);
    expect(() => shard(ds, 0, 0)).toThrow(RangeError);
  });

  it('property: the shards of every mode partition the rows, sizes within one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 17 }),
        fc.constantFrom<ShardMode>('contiguous', 'strided'),
        (rows, count, mode) => {
          const ds = traceable(rows);
          const parts = range(count).map((rank) => origin(shard(ds, rank, count, mode)));
          expect(sorted(parts.flat())).toEqual(range(rows));
          const sizes = parts.map((p) => p.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
