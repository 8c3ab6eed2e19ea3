import { seededRandom } from '@ps/core';
import type { SparseDataset } from './dataset.js';

/**
 * Copies the rows `rows` (0-based row numbers, in the order given; repeats allowed) of `ds` into a new
 * {@link SparseDataset} named `name` with the same `features`. The result shares no memory with `ds`.
 *
 * @throws RangeError if a row number is not an integer in `[0, ds.rows)`.
 */
export function takeRows(ds: SparseDataset, rows: ArrayLike<number>, name: string): SparseDataset {
  const n = rows.length;
  const indptr = new Int32Array(n + 1);
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= ds.rows) {
      throw new RangeError(`row ${r} is out of range [0, ${ds.rows})`);
    }
    nnz += ds.indptr[r + 1]! - ds.indptr[r]!;
    indptr[i + 1] = nnz;
  }
  const indices = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    const begin = ds.indptr[r]!;
    const end = ds.indptr[r + 1]!;
    indices.set(ds.indices.subarray(begin, end), indptr[i]!);
    values.set(ds.values.subarray(begin, end), indptr[i]!);
    labels[i] = ds.labels[r]!;
  }
  return { name, rows: n, indptr, indices, values, labels, features: ds.features };
}

/**
 * The row order {@link trainTestSplit} draws: `0 .. rows - 1` permuted by a Fisher-Yates shuffle
 * driven by seededRandom(`seed`). Its first `round(rows * testFraction)` entries are the test rows.
 */
export function seededPermutation(rows: number, seed: number): Uint32Array {
  const rand = seededRandom(seed);
  const perm = new Uint32Array(rows);
  for (let i = 0; i < perm.length; i++) perm[i] = i;
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

/**
 * The rows `[begin, end)` that {@link shard} gives worker `rank` of `count` in `'contiguous'`
 * mode, of a data set of `rows` rows.
 */
export function shardRange(rows: number, rank: number, count: number): { begin: number; end: number } {
  return { begin: Math.floor((rank * rows) / count), end: Math.floor(((rank + 1) * rows) / count) };
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions {
  /** Fraction of rows, in [0, 1], that go to the test set (rounded to the nearest row); default 0.2. */
  testFraction?: number;
  /** Seed (any number; used as uint32) of the mulberry32 PRNG that permutes the rows. */
  seed: number;
  /**
   * Keep the rows of each part in the permuted (random) order; default true. With false, each part keeps
   * the rows in their order in `ds`. Shuffled order matters for SGD and for contiguous {@link shard}s:
   * `loadImdb` and `loadSpamAssassin` return rows grouped by label.
   */
  shuffle?: boolean;
}

/**
 * Splits `ds` into disjoint `train` and `test` data sets that together hold every row exactly once.
 *
 * Deterministic: a Fisher-Yates shuffle of the row numbers driven by seededRandom(`seed`) (mulberry32, from @ps/core); the first
 * `round(rows * testFraction)` rows of the permutation form `test`, the rest `train`. The parts are named
 * `${ds.name}/train` and `${ds.name}/test` and share no memory with `ds`.
 *
 * @throws RangeError if `testFraction` is not in [0, 1].
 */
export function trainTestSplit(
  ds: SparseDataset,
  opts: TrainTestSplitOptions,
): { train: SparseDataset; test: SparseDataset } {
  const testFraction = opts.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new RangeError(`testFraction must be in [0, 1], got ${testFraction}`);
  }
  const perm = seededPermutation(ds.rows, opts.seed);
  const nTest = Math.round(ds.rows * testFraction);
  const testRows = perm.subarray(0, nTest);
  const trainRows = perm.subarray(nTest);
  if (opts.shuffle === false) {
    testRows.sort();
    trainRows.sort();
  }
  return {
    train: takeRows(ds, trainRows, `${ds.name}/train`),
    test: takeRows(ds, testRows, `${ds.name}/test`),
  };
}

/**
 * How {@link shard} deals rows to workers: `'contiguous'` gives worker `rank` the block
 * `[floor(rank * rows / count), floor((rank + 1) * rows / count))`; `'strided'` gives it rows
 * `rank, rank + count, rank + 2 * count, ...`. Either way shard sizes differ by at most one row.
 */
export type ShardMode = 'contiguous' | 'strided';

/**
 * The share of `ds` that worker `rank` of `count` trains on: a new data set named
 * `${ds.name}[rank/count]`. The `count` shards of one data set partition its rows.
 *
 * @param rank worker index, an integer in `[0, count)`.
 * @param count number of workers, a positive integer.
 * @param mode see {@link ShardMode}; default `'contiguous'`.
 * @throws RangeError on a bad `rank` or `count`.
 */
export function shard(
  ds: SparseDataset,
  rank: number,
  count: number,
  mode: ShardMode = 'contiguous',
): SparseDataset {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count must be a positive integer, got ${count}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= count) {
    throw new RangeError(`rank must be an integer in [0, ${count}), got ${rank}`);
  }
  const name = `${ds.name}[${rank}/${count}]`;
  let rows: Uint32Array;
  if (mode === 'contiguous') {
    const { begin, end } = shardRange(ds.rows, rank, count);
    rows = new Uint32Array(end - begin);
    for (let i = 0; i < rows.length; i++) rows[i] = begin + i;
  } else {
    rows = new Uint32Array(Math.max(0, Math.ceil((ds.rows - rank) / count)));
    for (let i = 0; i < rows.length; i++) rows[i] = rank + i * count;
  }
  return takeRows(ds, rows, name);
}
