import type { SparseDataset } from '../data/dataset.js';

/** What one gradient step over a batch measured. */
export interface BatchStats {
  /** Sum over the batch's rows of the logistic loss (natural log). */
  loss: number;
  /** Rows whose prediction (p > 0.5) matched the label. */
  correct: number;
  rows: number;
}

/** The logistic function, clamped so that exp never overflows. */
export function sigmoid(z: number): number {
  if (z < -35) return 6.305116760146989e-16;
  if (z > 35) return 1 - 6.305116760146989e-16;
  return 1 / (1 + Math.exp(-z));
}

/**
 * The gradient of the logistic loss over rows `[start, end)`, summed per feature:
 * `grad[positions[j]] += (σ(w·x) − y) · x_j` (the paper's sparse logistic regression, section 5.1).
 * `weights` and `grad` are indexed by batch position (`positions[bucket]`), both of the batch's
 * distinct-feature count; `grad` is zeroed here first. With `bias >= 0`, position `bias` is the
 * intercept: every row has the feature 1 there (`z = w·x + b`, `grad[bias] += σ(z) − y`).
 */
export function logisticGradient(
  ds: SparseDataset,
  start: number,
  end: number,
  positions: Int32Array,
  weights: ArrayLike<number>,
  grad: Float32Array,
  bias = -1,
): BatchStats {
  grad.fill(0);
  return addLogisticGradient(ds, start, end, positions, weights, grad, bias);
}

/**
 * {@link logisticGradient} without zeroing `grad` first: adds rows `[start, end)`'s gradient to
 * what `grad` holds, so that a batch can be computed a slice of rows at a time.
 */
export function addLogisticGradient(
  ds: SparseDataset,
  start: number,
  end: number,
  positions: Int32Array,
  weights: ArrayLike<number>,
  grad: Float32Array,
  bias = -1,
): BatchStats {
  const { indptr, indices, values, labels } = ds;
  let loss = 0;
  let correct = 0;
  for (let r = start; r < end; r++) {
    const a = indptr[r]!;
    const b = indptr[r + 1]!;
    let z = bias >= 0 ? weights[bias]! : 0;
    for (let k = a; k < b; k++) z += values[k]! * weights[positions[indices[k]!]!]!;
    const p = sigmoid(z);
    const y = labels[r]!;
    loss -= y === 1 ? Math.log(p) : Math.log(1 - p);
    if ((p > 0.5 ? 1 : 0) === y) correct++;
    const g = p - y;
    for (let k = a; k < b; k++) grad[positions[indices[k]!]!]! += g * values[k]!;
    if (bias >= 0) grad[bias]! += g;
  }
  return { loss, correct, rows: end - start };
}

/**
 * Probabilities σ(w·x + b) of rows `[start, end)` into `out[start..end)`, weights by batch
 * position; `b` is `weights[bias]` with `bias >= 0`, else 0.
 */
export function predictRows(
  ds: SparseDataset,
  start: number,
  end: number,
  positions: Int32Array,
  weights: ArrayLike<number>,
  out: Float64Array,
  bias = -1,
): void {
  const { indptr, indices, values } = ds;
  for (let r = start; r < end; r++) {
    let z = bias >= 0 ? weights[bias]! : 0;
    for (let k = indptr[r]!; k < indptr[r + 1]!; k++) z += values[k]! * weights[positions[indices[k]!]!]!;
    out[r] = sigmoid(z);
  }
}
