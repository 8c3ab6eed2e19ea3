import type { FilterStats, KVPairs } from '@ps/core';

/** The app-specific KKT filter, applied by a worker to each gradient before it is pushed. */
export interface KktFilter {
  readonly name: 'kkt';
  readonly signature: 'kkt';
  readonly stats: FilterStats;
  /**
   * Drops the keys whose weight is zero and whose gradient is within the KKT bound λ1:
   * `w_j = 0 and |g_j| <= λ1` (OSDI 2014, section 5.1: such a coordinate stays at zero after
   * the L1 proximal step, so pushing it changes nothing but the optimizer's step-size state).
   * @param keys the batch's keys, increasing
   * @param weights the pulled weights, one per key
   * @param grad the gradient, one per key (not changed)
   * @returns the keys and gradients to push (new arrays when something was dropped)
   */
  apply(keys: BigUint64Array, weights: ArrayLike<number>, grad: Float32Array): KVPairs<Float32Array>;
}

/** Makes the KKT filter for an L1 penalty λ1 (`--l1`). With λ1 = 0 it drops only exact zeros. */
export function kktFilter(l1: number): KktFilter {
  const stats: FilterStats = { messages: 0, bytesIn: 0, bytesOut: 0 };
  return {
    name: 'kkt',
    signature: 'kkt',
    stats,
    apply(keys, weights, grad) {
      const n = keys.length;
      let kept = 0;
      for (let i = 0; i < n; i++) if (!(weights[i] === 0 && Math.abs(grad[i]!) <= l1)) kept++;
      stats.messages++;
      stats.bytesIn += n * 12;
      stats.bytesOut += kept * 12;
      if (kept === n) return { keys, vals: grad };
      const k = new BigUint64Array(kept);
      const v = new Float32Array(kept);
      let o = 0;
      for (let i = 0; i < n; i++) {
        if (weights[i] === 0 && Math.abs(grad[i]!) <= l1) continue;
        k[o] = keys[i]!;
        v[o++] = grad[i]!;
      }
      return { keys: k, vals: v };
    },
  };
}
