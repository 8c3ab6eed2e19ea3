/**
 * A labelled binary-classification data set of sparse rows in CSR (compressed sparse row) form.
 *
 * Row `r` holds the entries `k` with `indptr[r] <= k < indptr[r + 1]`: feature bucket `indices[k]` has
 * value `values[k]`. Every bucket not listed in a row reads as zero.
 *
 * Invariants (checked by {@link validateDataset}):
 * - `indptr.length === rows + 1`, `indptr[0] === 0`, `indptr` non-decreasing,
 *   `indptr[rows] === indices.length === values.length`;
 * - within a row, `indices` are strictly increasing and each is `< features`;
 * - `labels.length === rows` and every label is 0 or 1.
 */
export interface SparseDataset {
  /** Human-readable name, e.g. `'imdb'`, `'spam'`, a file name, or a derived name like `'imdb/train'`. */
  name: string;
  /** Number of rows (examples). */
  rows: number;
  /** Row pointers: Int32Array of length `rows + 1`; offsets into `indices` / `values`. */
  indptr: Int32Array;
  /** Feature bucket ids (uint32, 0-based, `< features`), strictly increasing within a row; length = nnz. */
  indices: Uint32Array;
  /** Feature values (float32), one per entry of `indices`; length = nnz. */
  values: Float32Array;
  /** Class labels (uint8), 0 or 1; length `rows`. */
  labels: Uint8Array;
  /** Dimension: the number of feature buckets; every index is in `[0, features)`. */
  features: number;
}

/**
 * A labelled binary-classification corpus of raw texts, before feature hashing.
 *
 * `texts[i]` (a UTF-16 JS string) has label `labels[i]` (uint8, 0 or 1); both have the same length.
 */
export interface RawTextDataset {
  /** Human-readable name, e.g. `'imdb'` or `'spam'`. */
  name: string;
  /** The documents, one string per example. */
  texts: string[];
  /** Class labels (uint8), 0 or 1; `labels.length === texts.length`. */
  labels: Uint8Array;
}

/**
 * Checks every {@link SparseDataset} invariant and throws an `Error` naming the first one broken.
 *
 * Costs O(rows + nnz). Returns the data set itself so it can be used inline.
 */
export function validateDataset(ds: SparseDataset): SparseDataset {
  const { name, rows, indptr, indices, values, labels, features } = ds;
  const fail = (msg: string): never => {
    throw new Error(`invalid SparseDataset '${name}': ${msg}`);
  };
  if (!Number.isInteger(rows) || rows < 0) fail(`rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(features) || features < 0)
    fail(`features must be a non-negative integer, got ${features}`);
  if (indptr.length !== rows + 1) fail(`indptr.length ${indptr.length} !== rows + 1 (${rows + 1})`);
  if (labels.length !== rows) fail(`labels.length ${labels.length} !== rows (${rows})`);
  if (indices.length !== values.length)
    fail(`indices.length ${indices.length} !== values.length ${values.length}`);
  if (indptr[0] !== 0) fail(`indptr[0] must be 0, got ${indptr[0]}`);
  if (indptr[rows] !== indices.length) fail(`indptr[rows] ${indptr[rows]} !== nnz ${indices.length}`);
  for (let r = 0; r < rows; r++) {
    const begin = indptr[r]!;
    const end = indptr[r + 1]!;
    if (end < begin) fail(`indptr decreases at row ${r}`);
    const label = labels[r]!;
    if (label !== 0 && label !== 1) fail(`label of row ${r} is ${label}, not 0 or 1`);
    for (let k = begin; k < end; k++) {
      const j = indices[k]!;
      if (j >= features) fail(`row ${r} has index ${j} >= features ${features}`);
      if (k > begin && j <= indices[k - 1]!)
        fail(`row ${r} indices are not strictly increasing at entry ${k}`);
    }
  }
  return ds;
}
