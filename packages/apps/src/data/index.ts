export { checkTrainTest, type TrainTestOrigin } from './check-train-test.js';
export { concatDatasets } from './concat-datasets.js';
export type { RawTextDataset, SparseDataset } from './dataset.js';
export { validateDataset } from './dataset.js';
export { DatasetCache, defaultCacheDir } from './dataset-cache.js';
export { featureBucket, type HashTextOptions, hashText, tokenize } from './hash-features.js';
export { BUILT_IN_DATASETS, type LoadDatasetOptions, loadDataset } from './load-dataset.js';
export { type LoadImdbOptions, loadImdb } from './load-imdb.js';
export {
  indexLibsvm,
  type LibsvmIndex,
  type LibsvmOptions,
  loadLibsvm,
  maxLibsvmId,
  parseLibsvm,
} from './load-libsvm.js';
export { type LoadMnistOptions, loadMnist, type Mnist, type MnistSplit } from './load-mnist.js';
export { type LoadReutersOptions, loadReuters } from './load-reuters.js';
export {
  type LoadSpamAssassinOptions,
  loadSpamAssassin,
  type SpamAssassinHeaders,
} from './load-spam-assassin.js';
export { accuracy, auc, LOG_LOSS_EPS, logLoss } from './metrics.js';
export { resolveDatasetPackage } from './resolve-dataset-package.js';
export {
  decodeSparseDataset,
  encodeSparseDataset,
  encodeSparseDatasetBytes,
  SPARSE_DATASET_HEADER_BYTES,
} from './sparse-dataset-codec.js';
export {
  type ShardMode,
  seededPermutation,
  shard,
  shardRange,
  type TrainTestSplitOptions,
  takeRows,
  trainTestSplit,
} from './split.js';
