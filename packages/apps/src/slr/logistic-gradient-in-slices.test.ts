import { seededRandom } from '@ps/core';
import { describe, expect, it } from 'vitest';
import type { SparseDataset } from '../data/dataset.js';
import { logisticGradient } from './logistic-gradient.js';
import { logisticGradientInSlices } from './logistic-gradient-in-slices.js';
import { MinibatchIndexer } from './minibatch.js';

/** `rows` rows of `perRow` random distinct buckets below 4,096, random values and labels. */
function randomRows(rows: number, perRow: number, seed: number): SparseDataset {
  const rand = seededRandom(seed);
  const indptr = new Int32Array(rows + 1);
  const all: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Set<number>();
    while (row.size < perRow) row.add(Math.floor(rand() * 4096));
    all.push(...[...row].sort((a, b) => a - b));
    indptr[r + 1] = all.length;
  }
  return {
    name: 'random',
    rows,
    indptr,
    indices: Uint32Array.from(all),
    values: Float32Array.from(all, () => rand() * 2 - 1),
    labels: Uint8Array.from({ length: rows }, () => (rand() < 0.5 ? 1 : 0)),
    features: 4096,
  };
}

describe('logisticGradientInSlices', () => {
  const ds = randomRows(203, 30, 7);
  const indexer = new MinibatchIndexer(ds.features, 12, { bias: true });
  const batch = indexer.index(ds, 0, ds.rows);
  const rand = seededRandom(11);
  const weights = Float32Array.from(batch.keys, () => rand() - 0.5);

  it('gives the gradient of one call, bit for bit, and the same counts', async () => {
    const one = new Float32Array(batch.keys.length).fill(9);
    const want = logisticGradient(ds, 0, ds.rows, indexer.positions, weights, one, batch.bias);
    for (const sliceMs of [Number.MIN_VALUE, 0.5, Number.POSITIVE_INFINITY]) {
      const got = new Float32Array(batch.keys.length).fill(9);
      const stats = await logisticGradientInSlices(
        ds,
        0,
        ds.rows,
        indexer.positions,
        weights,
        got,
        batch.bias,
        sliceMs,
      );
      expect(got).toEqual(one);
      expect(stats.rows).toBe(203);
      expect(stats.correct).toBe(want.correct);
      expect(stats.loss).toBeCloseTo(want.loss, 9);
    }
  });

  it('lets the event loop turn between slices, and not with one slice', async () => {
    const grad = new Float32Array(batch.keys.length);
    const turnsDuring = async (sliceMs: number) => {
      let turns = 0;
      let done = false;
      // Counts the event loop's turns until the gradient resolves (bounded: 203 rows, 8 a slice).
      const tick = () => {
        if (done) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      await logisticGradientInSlices(ds, 0, ds.rows, indexer.positions, weights, grad, batch.bias, sliceMs);
      done = true;
      return turns;
    };
    // A slice of one look (8 rows): 203 rows give 25 turns, each running the ticker once.
    expect(await turnsDuring(Number.MIN_VALUE)).toBe(25);
    expect(await turnsDuring(Number.POSITIVE_INFINITY)).toBe(0);
  });
});
