import { adagradHandler, ftrlHandler, sgdHandler, type TableHandler } from '@ps/core';
import type { SlrConfig } from './slr-config.js';

/**
 * The server's handler for the job: pushes are summed minibatch gradients of the logistic
 * loss; the chosen rule (AdaGrad, FTRL-Proximal or SGD, with L1/L2) turns them into weights,
 * and pulls return the weights.
 */
export function slrHandler(cfg: Pick<SlrConfig, 'optimizer' | 'lr' | 'beta' | 'l1' | 'l2'>): TableHandler {
  const { l1, l2 } = cfg;
  switch (cfg.optimizer) {
    case 'ftrl':
      return ftrlHandler({ alpha: cfg.lr, beta: cfg.beta, l1, l2, initialCapacity: 1 << 16 });
    case 'sgd':
      return sgdHandler({ lr: cfg.lr, l1, l2, initialCapacity: 1 << 16 });
    default:
      return adagradHandler({ lr: cfg.lr, l1, l2, initialCapacity: 1 << 16 });
  }
}
