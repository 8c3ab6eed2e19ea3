/**
 * Binary-classification metrics over typed arrays (`Uint8Array` labels, `Float32Array`/`Float64Array`
 * probabilities or scores; any `ArrayLike<number>` works). `labels[i]` must be 0 or 1 and belongs to
 * `probs[i]` / `scores[i]`; the two arrays must have the same length.
 */

/** Probabilities are clipped to `[EPS, 1 - EPS]` by {@link logLoss}. */
export const LOG_LOSS_EPS = 1e-15;

function checkInputs(labels: ArrayLike<number>, preds: ArrayLike<number>, what: string): void {
  if (labels.length !== preds.length) {
    throw new RangeError(`labels.length ${labels.length} !== ${what}.length ${preds.length}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`labels[${i}] is ${y}, not 0 or 1`);
    if (Number.isNaN(preds[i])) throw new RangeError(`${what}[${i}] is NaN`);
  }
}

/**
 * Fraction (in [0, 1]) of rows whose predicted class matches the label, where the prediction is 1 iff
 * `probs[i] > threshold` (default 0.5, as a logistic model predicts 1 iff its margin is > 0).
 * Returns NaN for empty input.
 */
export function accuracy(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold = 0.5): number {
  checkInputs(labels, probs, 'probs');
  const n = labels.length;
  if (n === 0) return Number.NaN;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const pred = probs[i]! > threshold ? 1 : 0;
    if (pred === labels[i]) correct++;
  }
  return correct / n;
}

/**
 * Mean binary cross-entropy in nats: `-(1/n) Σ [y ln p + (1 - y) ln(1 - p)]`, with each probability `p`
 * (of class 1) clipped to `[1e-15, 1 - 1e-15]` so the result is finite (at most about 34.5).
 * Returns NaN for empty input.
 */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  checkInputs(labels, probs, 'probs');
  const n = labels.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probs[i]!, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / n;
}

/**
 * Area under the ROC curve, in [0, 1], from the ranks of the scores (Mann-Whitney U / (nPos * nNeg)):
 * the probability that a random positive scores higher than a random negative, ties counting one half
 * (tied scores get the average of their ranks). Scores may be probabilities or raw margins; only their
 * order matters. O(n log n). Returns NaN when the labels are all 0 or all 1 (AUC undefined).
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkInputs(labels, scores, 'scores');
  const n = labels.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i]!;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  const s = Float64Array.from(scores);
  const sorted = new Uint32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = i;
  sorted.sort((a, b) => (s[a]! < s[b]! ? -1 : s[a]! > s[b]! ? 1 : 0)); // safe with ±Infinity
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    const v = s[sorted[i]!]!;
    while (j < n && s[sorted[j]!] === v) j++;
    // rows sorted[i..j) are tied; 1-based ranks i+1..j, average (i + 1 + j) / 2
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (labels[sorted[k]!] === 1) rankSumPos += avgRank;
    i = j;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
