import { type FilterStats, type KVPairs, KVTable } from '@ps/core';
import { BIAS_KEY } from './feature-keys.js';

/** The app-specific KKT filter, applied by a worker to each gradient before it is pushed. */
export interface KktFilter {
  readonly name: 'kkt';
  readonly signature: 'kkt';
  readonly stats: FilterStats;
  /**
   * Holds back the gradient of keys that sit at zero within the KKT bound: for key j with pulled
   * weight `w_j = 0`, the gradient is added to a residual r_j, and the key is pushed only once
   * `|r_j| > λ1` (then with r_j, which is cleared). A coordinate at zero stays at zero under the
   * L1 proximal update exactly while the sum of its gradients is within λ1 (OSDI 2014, section
   * 5.1, for the full gradient; with minibatches the held-back part must accumulate, as in
   * FTRL's z, or no weight would ever leave zero). Keys with `w_j ≠ 0` are pushed with their
   * residual added. Nothing is lost: the residuals are pushed later or stay below λ1 each. The
   * intercept (`BIAS_KEY`) carries no L1 penalty, so its gradient is always pushed.
   * @param keys the batch's keys, increasing
   * @param weights the pulled weights, one per key
   * @param grad the gradient, one per key (not changed)
   * @returns the keys and gradients to push (new arrays)
   */
  apply(keys: BigUint64Array, weights: ArrayLike<number>, grad: Float32Array): KVPairs<Float32Array>;
}

/** Makes the KKT filter for an L1 penalty λ1 (`--l1`); with λ1 = 0 it holds back nothing. */
export function kktFilter(l1: number): KktFilter {
  const stats: FilterStats = { messages: 0, bytesIn: 0, bytesOut: 0 };
  const residuals = new KVTable('float64', 1, 1 << 16);
  return {
    name: 'kkt',
    signature: 'kkt',
    stats,
    apply(keys, weights, grad) {
      const n = keys.length;
      const entries = residuals.lookup(keys, true, 1);
      const r = residuals.slabs[0]!;
      const send = new Uint8Array(n);
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const o = residuals.offsetOf(entries[i]!);
        const sum = r[o]! + grad[i]!;
        if (weights[i] === 0 && Math.abs(sum) <= l1 && keys[i] !== BIAS_KEY) {
          r[o] = sum;
        } else {
          send[i] = 1;
          kept++;
        }
      }
      const k = new BigUint64Array(kept);
      const v = new Float32Array(kept);
      let j = 0;
      for (let i = 0; i < n; i++) {
        if (!send[i]) continue;
        const o = residuals.offsetOf(entries[i]!);
        k[j] = keys[i]!;
        v[j++] = r[o]! + grad[i]!;
        r[o] = 0;
      }
      stats.messages++;
      stats.bytesIn += n * 12;
      stats.bytesOut += kept * 12;
      return { keys: k, vals: v };
    },
  };
}
