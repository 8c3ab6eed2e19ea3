import { checkOption, softThreshold } from './sgd-handler.js';
import { gather, readSlab0 } from './sum-handler.js';
import {
  type TableHandler,
  type TableHandlerOptions,
  tableHandler,
  type UpdateRule,
} from './table-handler.js';

/** Options of {@link adagradHandler}. */
export interface AdaGradOptions extends TableHandlerOptions {
  /** Base learning rate η (> 0). Default 0.1. */
  lr?: number;
  /** Added to the root of the squared-gradient sum, for stability. Default 1e-8. */
  eps?: number;
  /** L1 penalty λ1 (>= 0), a proximal soft-threshold scaled by the per-coordinate rate. Default 0. */
  l1?: number;
  /** L2 penalty λ2 (>= 0), added to the gradient as λ2·w. Default 0. */
  l2?: number;
}

/**
 * AdaGrad (Duchi, Hazan and Singer, 2011), the per-coordinate adaptive rate the paper's
 * sparse logistic regression uses: with h the sum of squared gradients,
 * `h ← h + g²; w ← prox(w − η·g/(√h + ε))`, with `g` including λ2·w. Slab 0 holds w, slab 1 h.
 * @throws PsError `PS_ERR_CONFIG` for out-of-range options.
 */
export function adagradHandler(opts: AdaGradOptions = {}): TableHandler {
  const lr = checkOption('lr', opts.lr ?? 0.1, 0, true);
  const eps = checkOption('eps', opts.eps ?? 1e-8, 0);
  const l1 = checkOption('l1', opts.l1 ?? 0, 0);
  const l2 = checkOption('l2', opts.l2 ?? 0, 0);
  const apply: UpdateRule['apply'] = (slabs, off, len, vals, vi) => {
    const w = slabs[0]!;
    const h = slabs[1]!;
    for (let j = 0; j < len; j++) {
      const k = off + j;
      const wk = w[k]!;
      const g = vals[vi + j]! + l2 * wk;
      const hk = h[k]! + g * g;
      h[k] = hk;
      const rate = lr / (Math.sqrt(hk) + eps);
      const next = wk - rate * g;
      w[k] = l1 > 0 ? softThreshold(next, rate * l1) : next;
    }
  };
  return tableHandler(
    {
      name: 'adagrad',
      states: 2,
      retainsNoViews: true,
      apply,
      // Scattered keys of width 1 (hashed features in a dense range): one loop over the offsets,
      // not a call per key.
      applyScattered(slabs, offsets, width, vals) {
        if (width !== 1) {
          for (let i = 0; i < offsets.length; i++) apply(slabs, offsets[i]!, width, vals, i * width);
          return;
        }
        const w = slabs[0]!;
        const h = slabs[1]!;
        for (let i = 0; i < offsets.length; i++) {
          const k = offsets[i]!;
          const wk = w[k]!;
          const g = vals[i]! + l2 * wk;
          const hk = h[k]! + g * g;
          h[k] = hk;
          const rate = lr / (Math.sqrt(hk) + eps);
          const next = wk - rate * g;
          w[k] = l1 > 0 ? softThreshold(next, rate * l1) : next;
        }
      },
      read: readSlab0,
      readScattered: gather,
    },
    opts,
  );
}
