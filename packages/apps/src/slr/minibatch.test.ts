import { seededRandom } from '@ps/core';
import { describe, expect, it } from 'vitest';
import type { SparseDataset } from '../data/dataset.js';
import { BIAS_KEY, bucketsToKeys } from './feature-keys.js';
import { MinibatchIndexer } from './minibatch.js';

/** Rows of random distinct buckets below `features` (sorted within a row). */
function randomRows(rows: number, perRow: number, features: number, seed: number): SparseDataset {
  const rand = seededRandom(seed);
  const indptr = new Int32Array(rows + 1);
  const all: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Set<number>();
    while (row.size < perRow) row.add(Math.floor(rand() * features));
    all.push(...[...row].sort((a, b) => a - b));
    indptr[r + 1] = all.length;
  }
  return {
    name: 'random',
    rows,
    indptr,
    indices: Uint32Array.from(all),
    values: new Float32Array(all.length).fill(1),
    labels: new Uint8Array(rows),
    features,
  };
}

/** The batch's buckets by a plain sort, for comparison. */
function reference(ds: SparseDataset, start: number, end: number): number[] {
  const seen = new Set<number>();
  for (let k = ds.indptr[start]!; k < ds.indptr[end]!; k++) seen.add(ds.indices[k]!);
  return [...seen].sort((a, b) => a - b);
}

describe('MinibatchIndexer', () => {
  // 2^10 buckets: the bitmap scan; 2^26 buckets: the touched words, in order.
  for (const [features, bits] of [
    [2 ** 10, 10],
    [2 ** 26, 26],
  ] as const) {
    it(`gives each batch's distinct buckets in increasing order, its keys and positions (${features} buckets)`, () => {
      const ds = randomRows(40, 30, features, bits);
      const ix = new MinibatchIndexer(features, bits, { bias: true });
      for (const [start, end] of [
        [0, 8],
        [8, 40],
        [3, 4],
        [0, 40],
        [5, 5],
      ] as const) {
        const want = reference(ds, start, end);
        const batch = ix.index(ds, start, end);
        expect([...batch.buckets]).toEqual(want);
        expect(batch.bias).toBe(want.length);
        expect([...batch.keys]).toEqual([...bucketsToKeys(Uint32Array.from(want), bits), BIAS_KEY]);
        for (let i = 0; i < want.length; i++) expect(ix.positions[want[i]!]).toBe(i);
        // Buckets outside the batch read -1.
        const inBatch = new Set(want);
        let outside = 0;
        for (let b = 0; b < Math.min(features, 4096); b++)
          if (!inBatch.has(b)) {
            expect(ix.positions[b]).toBe(-1);
            outside++;
          }
        expect(outside).toBeGreaterThan(0);
      }
    });
  }

  it('keysOf leaves positions to the batch made current by use', () => {
    const ds = randomRows(20, 10, 1024, 7);
    const ix = new MinibatchIndexer(1024, 10);
    const first = ix.index(ds, 0, 10);
    const ahead = ix.keysOf(ds, 10, 20);
    for (let i = 0; i < first.buckets.length; i++) expect(ix.positions[first.buckets[i]!]).toBe(i);
    ix.use(ahead);
    for (let i = 0; i < ahead.buckets.length; i++) expect(ix.positions[ahead.buckets[i]!]).toBe(i);
    const onlyFirst = [...first.buckets].filter((b) => !ahead.buckets.includes(b));
    expect(onlyFirst.length).toBeGreaterThan(0);
    for (const b of onlyFirst) expect(ix.positions[b]).toBe(-1);
  });

  it('finds bucket 31 of a word and the last bucket of the space', () => {
    const ds: SparseDataset = {
      name: 'edges',
      rows: 1,
      indptr: Int32Array.of(0, 4),
      indices: Uint32Array.of(0, 31, 32, 1023),
      values: new Float32Array(4).fill(1),
      labels: new Uint8Array(1),
      features: 1024,
    };
    expect([...new MinibatchIndexer(1024, 10).index(ds, 0, 1).buckets]).toEqual([0, 31, 32, 1023]);
  });
});
