import { checkOption } from './sgd-handler.js';
import { readSlab0 } from './sum-handler.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

/** Options of {@link adamHandler}. */
export interface AdamOptions extends TableHandlerOptions {
  /** Step size α (> 0). Default 0.001. */
  lr?: number;
  /** Decay rate β1 of the first-moment estimate, in [0, 1). Default 0.9. */
  beta1?: number;
  /** Decay rate β2 of the second-moment estimate, in [0, 1). Default 0.999. */
  beta2?: number;
  /** ε (>= 0), added to √v̂ in the denominator. Default 1e-7 (as `tf.train.adam`; the paper's is 1e-8). */
  eps?: number;
}

/**
 * Adam on the server: Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
 * Algorithm 1. Pushes are gradients g; per coordinate, with its own step count t:
 * `t ← t + 1; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 *  w ← w − α·m̂/(√v̂ + ε)` with `m̂ = m/(1 − β1^t)`, `v̂ = v/(1 − β2^t)`. Pulls return w.
 *
 * State per key, on the server: slab 0 holds w, slab 1 m, slab 2 v, slab 3 t (a key's t counts
 * the updates applied to it, so a key left out of a push keeps its own bias correction, as in
 * per-parameter Adam when every push carries every key). In sync mode the rule runs once per
 * iteration, on the sum of the workers' gradients.
 * @throws PsError `PS_ERR_CONFIG` for a non-positive α, a β outside [0, 1) or a negative ε.
 */
export function adamHandler(opts: AdamOptions = {}): TableHandler {
  const lr = checkOption('lr', opts.lr ?? 0.001, 0, true);
  const b1 = checkOption('beta1', opts.beta1 ?? 0.9, 0);
  const b2 = checkOption('beta2', opts.beta2 ?? 0.999, 0);
  checkOption('1 - beta1', 1 - b1, 0, true);
  checkOption('1 - beta2', 1 - b2, 0, true);
  const eps = checkOption('eps', opts.eps ?? 1e-7, 0);
  // Bias corrections by step count: keys usually share t, so the two powers are computed once
  // per run of equal t, not per element.
  let lastT = 0;
  let c1 = 1;
  let c2 = 1;
  return tableHandler(
    {
      name: 'adam',
      states: 4,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        const m = slabs[1]!;
        const v = slabs[2]!;
        const ts = slabs[3]!;
        for (let j = 0; j < len; j++) {
          const k = off + j;
          const g = vals[vi + j]!;
          const t = ts[k]! + 1;
          ts[k] = t;
          m[k] = b1 * m[k]! + (1 - b1) * g;
          v[k] = b2 * v[k]! + (1 - b2) * g * g;
          // The stored (possibly float32) moments are the ones applied, as a replica applies them.
          if (t !== lastT) {
            lastT = t;
            c1 = 1 - b1 ** t;
            c2 = 1 - b2 ** t;
          }
          const mHat = m[k]! / c1;
          const vHat = v[k]! / c2;
          w[k] = w[k]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
        }
      },
      read: readSlab0,
    },
    opts,
  );
}
