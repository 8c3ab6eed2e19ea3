import { PsError, PsErrorCode } from '../errors.js';
import { readSlab0 } from './sum-handler.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

/** Options of {@link sgdHandler}. */
export interface SgdOptions extends TableHandlerOptions {
  /** Learning rate η (> 0). Default 0.1. */
  lr?: number;
  /** L1 penalty λ1 (>= 0), applied as a proximal soft-threshold. Default 0. */
  l1?: number;
  /** L2 penalty λ2 (>= 0), added to the gradient as λ2·w. Default 0. */
  l2?: number;
}

/** Checks that an optimizer option is a finite number within bounds. */
export function checkOption(name: string, v: number, min: number, strict = false): number {
  if (!Number.isFinite(v) || v < min || (strict && v === min)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `${name} must be a finite number ${strict ? '>' : '>='} ${min}, got ${v}`,
    );
  }
  return v;
}

/** Soft-threshold: the proximal operator of t·|w|. */
export function softThreshold(w: number, t: number): number {
  return w > t ? w - t : w < -t ? w + t : 0;
}

/**
 * Stochastic gradient descent on the server: pushes are gradients g, the update is
 * `w ← prox_{η·λ1}(w − η·(g + λ2·w))` per coordinate; pulls return w.
 * @throws PsError `PS_ERR_CONFIG` for a non-positive learning rate or negative penalties.
 */
export function sgdHandler(opts: SgdOptions = {}): TableHandler {
  const lr = checkOption('lr', opts.lr ?? 0.1, 0, true);
  const l1 = checkOption('l1', opts.l1 ?? 0, 0);
  const l2 = checkOption('l2', opts.l2 ?? 0, 0);
  const t = lr * l1;
  return tableHandler(
    {
      name: 'sgd',
      states: 1,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        for (let j = 0; j < len; j++) {
          const wj = w[off + j]!;
          const next = wj - lr * (vals[vi + j]! + l2 * wj);
          w[off + j] = t > 0 ? softThreshold(next, t) : next;
        }
      },
      read: readSlab0,
    },
    opts,
  );
}
