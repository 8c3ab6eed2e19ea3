import type { ValArray } from '../wire/kv-pairs.js';
import { checkOption } from './sgd-handler.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

/** Options of {@link ftrlHandler} (names as in McMahan et al.). */
export interface FtrlOptions extends TableHandlerOptions {
  /** α, the learning-rate scale (> 0). Default 0.1. */
  alpha?: number;
  /** β, the learning-rate smoothing (>= 0). Default 1. */
  beta?: number;
  /** λ1, the L1 penalty (>= 0); larger values give sparser weights. Default 0. */
  l1?: number;
  /** λ2, the L2 penalty (>= 0). Default 0. */
  l2?: number;
}

/**
 * FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013,
 * Algorithm 1), per coordinate. Pushes are gradients g. State: z (slab 0) and n (slab 1);
 * the weight is computed on pull:
 * `w = 0 if |z| <= λ1, else −(z − sgn(z)·λ1) / ((β + √n)/α + λ2)`;
 * a push does `σ = (√(n+g²) − √n)/α; z ← z + g − σ·w; n ← n + g²`.
 * @throws PsError `PS_ERR_CONFIG` for out-of-range options.
 */
export function ftrlHandler(opts: FtrlOptions = {}): TableHandler {
  const alpha = checkOption('alpha', opts.alpha ?? 0.1, 0, true);
  const beta = checkOption('beta', opts.beta ?? 1, 0);
  const l1 = checkOption('l1', opts.l1 ?? 0, 0);
  const l2 = checkOption('l2', opts.l2 ?? 0, 0);
  const weight = (z: number, n: number) =>
    Math.abs(z) <= l1 ? 0 : -(z - Math.sign(z) * l1) / ((beta + Math.sqrt(n)) / alpha + l2);
  return tableHandler(
    {
      name: 'ftrl',
      states: 2,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        const z = slabs[0]!;
        const n = slabs[1]!;
        for (let j = 0; j < len; j++) {
          const k = off + j;
          const g = vals[vi + j]!;
          const nk = n[k]!;
          const w = weight(z[k]!, nk);
          const n2 = nk + g * g;
          const sigma = (Math.sqrt(n2) - Math.sqrt(nk)) / alpha;
          z[k] = z[k]! + g - sigma * w;
          n[k] = n2;
        }
      },
      read(slabs: ValArray[], off, len, out, oi) {
        const z = slabs[0]!;
        const n = slabs[1]!;
        for (let j = 0; j < len; j++) out[oi + j] = weight(z[off + j]!, n[off + j]!);
      },
    },
    opts,
  );
}
