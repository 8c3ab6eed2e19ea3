import { checkOption } from './sgd-handler.js';
import { readSlab0 } from './sum-handler.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

/** Options of {@link momentumHandler}. */
export interface MomentumOptions extends TableHandlerOptions {
  /** Learning rate η (> 0). Default 0.01. */
  lr?: number;
  /** Momentum μ, in [0, 1). Default 0.9. */
  momentum?: number;
}

/**
 * SGD with momentum (Polyak's heavy ball, in the form of `tf.train.momentum` and PyTorch's SGD):
 * pushes are gradients g; per coordinate `v ← μ·v + g; w ← w − η·v`; pulls return w. Slab 0 holds
 * w, slab 1 the velocity v (per key, on the server, starting at 0).
 *
 * In sync mode the rule runs once per iteration on the sum of the workers' gradients, so push
 * gradients already divided by the number of workers for an average.
 * @throws PsError `PS_ERR_CONFIG` for a non-positive learning rate or a momentum outside [0, 1).
 */
export function momentumHandler(opts: MomentumOptions = {}): TableHandler {
  const lr = checkOption('lr', opts.lr ?? 0.01, 0, true);
  const mu = checkOption('momentum', opts.momentum ?? 0.9, 0);
  checkOption('1 - momentum', 1 - mu, 0, true);
  return tableHandler(
    {
      name: 'momentum',
      states: 2,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        const v = slabs[1]!;
        for (let j = 0; j < len; j++) {
          const k = off + j;
          v[k] = mu * v[k]! + vals[vi + j]!;
          // Read back: in a float32 table the velocity applied is the stored (rounded) one.
          w[k] = w[k]! - lr * v[k]!;
        }
      },
      read: readSlab0,
    },
    opts,
  );
}
