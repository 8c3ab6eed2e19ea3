import type { SlrConfig } from './slr-config.js';

/**
 * The settings of a job that decide its data (the rows each worker trains and the test rows):
 * the data sets, the hashing (`bits`, `bigrams`), the split's seed and test fraction. Two jobs
 * with equal settings read the same data; an in-memory cache of loaded data keys on
 * `JSON.stringify` of these (with, for files, what says they were not rewritten).
 */
export function slrDataSettings(cfg: SlrConfig): unknown[] {
  return [cfg.dataset, cfg.testDataset, cfg.bits, cfg.bigrams, cfg.seed, cfg.testFraction];
}
