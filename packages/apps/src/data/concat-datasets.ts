import type { SparseDataset } from './dataset.js';

/**
 * The rows of `parts`, one after the other, as one {@link SparseDataset} named `name` with the
 * dimension of the first part (every part must have the same). Copies; shares no memory.
 * @throws RangeError when `parts` is empty or the parts' dimensions differ.
 */
export function concatDatasets(parts: readonly SparseDataset[], name: string): SparseDataset {
  const first = parts[0];
  if (!first) throw new RangeError('concatDatasets needs at least one part');
  let rows = 0;
  let nnz = 0;
  for (const p of parts) {
    if (p.features !== first.features)
      throw new RangeError(`parts of ${first.features} and ${p.features} features cannot be joined`);
    rows += p.rows;
    nnz += p.indices.length;
  }
  const indptr = new Int32Array(rows + 1);
  const indices = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  const labels = new Uint8Array(rows);
  let r = 0;
  let k = 0;
  for (const p of parts) {
    for (let i = 1; i <= p.rows; i++) indptr[r + i] = k + p.indptr[i]!;
    indices.set(p.indices, k);
    values.set(p.values, k);
    labels.set(p.labels, r);
    r += p.rows;
    k += p.indices.length;
  }
  return { name, rows, indptr, indices, values, labels, features: first.features };
}
