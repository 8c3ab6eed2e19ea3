import {
  adagradHandler,
  ftrlHandler,
  type KVPairs,
  type KVRequest,
  sgdHandler,
  type TableHandler,
  type TableHandlerOptions,
} from '@ps/core';
import { BIAS_KEY } from './feature-keys.js';
import type { SlrConfig } from './slr-config.js';

/** The job options the servers' update rule reads (see {@link SlrConfig}). */
export type SlrRuleConfig = Pick<SlrConfig, 'optimizer' | 'lr' | 'beta' | 'l1' | 'l2'>;

/** Feature spaces up to 2^24 buckets are stored densely (at most 64 MiB of float32 a slab). */
export const MAX_DENSE_KEY_BITS = 24;

/**
 * The table layout for `keyBits`-bit feature keys (`bucket << (64 - keyBits)`): every bucket by
 * index (no hashing) up to {@link MAX_DENSE_KEY_BITS}, else hashed. The intercept's key is off
 * the grid and stays in the hash part.
 */
export function slrTableOptions(keyBits: number | undefined): TableHandlerOptions {
  if (keyBits === undefined || keyBits < 1 || keyBits > MAX_DENSE_KEY_BITS)
    return { initialCapacity: 1 << 16 };
  return { initialCapacity: 16, denseRange: { base: 0n, shift: 64 - keyBits, count: 2 ** keyBits } };
}

function ruleHandler(cfg: SlrRuleConfig, l1: number, l2: number, table: TableHandlerOptions): TableHandler {
  switch (cfg.optimizer) {
    case 'ftrl':
      return ftrlHandler({ alpha: cfg.lr, beta: cfg.beta, l1, l2, ...table });
    case 'sgd':
      return sgdHandler({ lr: cfg.lr, l1, l2, ...table });
    default:
      return adagradHandler({ lr: cfg.lr, l1, l2, ...table });
  }
}

/**
 * The server's handler for the job: pushes are summed minibatch gradients of the logistic
 * loss; the chosen rule (AdaGrad, FTRL-Proximal or SGD, with L1/L2) turns them into weights,
 * and pulls return the weights.
 *
 * The intercept (`BIAS_KEY`, the last key of a sorted request) lives in the same table as every
 * other weight (so replication and snapshots carry it), but its update and its read use the same
 * rule without L1/L2: an intercept is not shrunk towards zero (as in liblinear's and
 * scikit-learn's logistic regression, whose intercept is not penalised either).
 * @param keyBits the feature keys' bits when the server knows them (the text data sets: 20, or
 *   `--bits`): the table then stores every bucket by index (see `slrTableOptions`).
 */
export function slrHandler(cfg: SlrRuleConfig, keyBits?: number): TableHandler {
  const layout = slrTableOptions(keyBits);
  const model = ruleHandler(cfg, cfg.l1, cfg.l2, layout);
  if (cfg.l1 === 0 && cfg.l2 === 0) return model;
  const free = ruleHandler(cfg, 0, 0, { initialCapacity: 16 }).rule;
  const { table } = model;
  const bias = new BigUint64Array([BIAS_KEY]);
  const handle = (req: KVRequest): KVPairs | undefined => {
    const { keys, vals, lens } = req.kv;
    const n = keys.length;
    if (n === 0 || lens || keys[n - 1] !== BIAS_KEY || (req.push && vals.length !== n)) return model(req);
    // The features through the penalised rule; a full-list keysTag still names this sub-list.
    const rest = model({
      ...req,
      kv: { keys: keys.subarray(0, n - 1), vals: req.push ? vals.subarray(0, n - 1) : vals },
    });
    const e = table.lookup(bias, req.push, 1)[0]!;
    if (req.push) free.apply(table.slabs, table.offsetOf(e), 1, vals, n - 1);
    if (!req.pull || !rest) return undefined;
    const out = rest.vals instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
    out.set(rest.vals);
    if (e >= 0) free.read(table.slabs, table.offsetOf(e), 1, out, n - 1);
    return { keys, vals: out };
  };
  return Object.assign(handle, { table, rule: model.rule });
}
