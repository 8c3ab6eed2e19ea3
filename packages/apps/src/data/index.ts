export { checkTrainTest, type TrainTestOrigin } from './check-train-test.js';
export type { RawTextDataset, SparseDataset } from './dataset.js';
export { validateDataset } from './dataset.js';
export { featureBucket, type HashTextOptions, hashText, tokenize } from './hash-features.js';
export { BUILT_IN_DATASETS, type LoadDatasetOptions, loadDataset } from './load-dataset.js';
export { type LoadImdbOptions, loadImdb } from './load-imdb.js';
export { type LibsvmOptions, loadLibsvm, parseLibsvm } from './load-libsvm.js';
export {
  type LoadSpamAssassinOptions,
  loadSpamAssassin,
  type SpamAssassinHeaders,
} from './load-spam-assassin.js';
export { accuracy, auc, LOG_LOSS_EPS, logLoss } from './metrics.js';
export { resolveDatasetPackage } from './resolve-dataset-package.js';
export { type ShardMode, shard, type TrainTestSplitOptions, takeRows, trainTestSplit } from './split.js';
