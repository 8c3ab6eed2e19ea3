// The job's dashboard (`pskv slr --serve`, `--plot`): see docs/dashboard.md.
export {
  type ClusterDigest,
  clusterDigest,
  type NodeDigest,
  type RangeDigest,
} from './dashboard/cluster-digest.js';
export { type DashboardRoutes, dashboardRoutes } from './dashboard/dashboard-routes.js';
export { type HeldOutPoint, JobFeed, type JobSnapshot, type TrainingPoint } from './dashboard/job-feed.js';
export { jobProxyRoute } from './dashboard/job-proxy-route.js';
export { trainingPlotSvg, writeTrainingPlot } from './dashboard/write-training-plot.js';
export * from './data/index.js';
export type { JobEvent, JobSummary } from './job/job-events.js';
export { JobInterrupted } from './job/job-interrupted.js';
export { type LocalClusterOptions, runLocalCluster } from './job/local-cluster.js';
export { openSlrData, type SlrData } from './job/open-slr-data.js';
export { preflightSlrData } from './job/preflight-slr-data.js';
export { createProgressDisplay, type ProgressDisplay } from './job/progress-display.js';
export type { ResolvedRoleSecrets } from './job/resolve-role-secrets.js';
export { loadSlrData, type RoleContext, roleMain, runSlrRole } from './job/run-role.js';
export { evaluateLda, type LdaEvaluation } from './lda/evaluate-lda.js';
export { GibbsSampler, type LdaPriors } from './lda/gibbs-sampler.js';
export { type HeldOutOptions, heldOutPerplexity, unigramPerplexity } from './lda/held-out-perplexity.js';
export { checkLdaWorkers, LDA_DEFAULTS, type LdaConfig, resolveLdaConfig } from './lda/lda-config.js';
export {
  buildLdaCorpus,
  docsSlice,
  type LdaCorpus,
  type LdaCorpusOptions,
  type LdaDocs,
  ldaTokens,
} from './lda/lda-corpus.js';
export { decodeLdaCorpus, encodeLdaCorpus } from './lda/lda-corpus-codec.js';
export { ldaKeys } from './lda/lda-keys.js';
export { type LdaRoleMessage, ldaRoleMain } from './lda/lda-role-main.js';
export { type LdaSummary, ldaSummary } from './lda/lda-summary.js';
export { loadLdaCorpus } from './lda/load-lda-corpus.js';
export { type LdaCounts, pullLdaCounts } from './lda/pull-lda-counts.js';
export { readLdaShard } from './lda/read-lda-shard.js';
export { type RunLdaOptions, runLda } from './lda/run-lda.js';
export { type RunLdaProcessesOptions, runLdaProcesses } from './lda/run-lda-processes.js';
export { type LdaRoleContext, runLdaServer, runLdaWorker } from './lda/run-lda-roles.js';
export { topWords } from './lda/top-words.js';
export {
  type LdaSweep,
  type LdaWorkerReport,
  ldaWorkerSeed,
  type TrainLdaWorkerArgs,
  trainLdaWorker,
} from './lda/train-lda-worker.js';
export { JobMetrics } from './metrics/job-metrics.js';
export { type MetricsServer, startMetricsServer } from './metrics/metrics-server.js';
export { METRIC_NAMES, NodeMetricsRegistry } from './metrics/node-metrics-registry.js';
export {
  type AppReading,
  type FilterReading,
  type NodeReading,
  type NodeSource,
  schedulerSource,
  serverSource,
  workerSource,
} from './metrics/node-reading.js';
// The tfjs bridge and the nn job are in `@ps/apps/nn` (src/nn.ts): this entry does not load tfjs.
export { CountMinSketch, type CountMinSketchOptions } from './sketch/count-min-sketch.js';
export { itemId } from './sketch/item-id.js';
export { type PushSketchCountsOptions, pushSketchCounts } from './sketch/push-sketch-counts.js';
export { querySketch } from './sketch/query-sketch.js';
export { bigramIds, type RunSketchOptions, runSketch, type SketchSummary } from './sketch/run-sketch.js';
export { BIAS_KEY, bucketsToKeys, keyBitsFor, keyToBucket } from './slr/feature-keys.js';
export { type FilterSpecItem, parseFilterSpec } from './slr/filter-spec.js';
export { FILTER_SPECS, filtersFromSpec } from './slr/filters-from-spec.js';
export { type KktFilter, kktFilter } from './slr/kkt-filter.js';
export { type BatchStats, logisticGradient, predictRows, sigmoid } from './slr/logistic-gradient.js';
export { MinibatchIndexer, type MinibatchIndexerOptions, type MinibatchKeys } from './slr/minibatch.js';
export {
  resolveSlrConfig,
  SLR_DEFAULTS,
  SLR_MAX_DEFAULT_BATCH,
  SLR_MIN_STEPS_PER_EPOCH,
  type SlrConfig,
  type SlrOptimizer,
  SMALL_DATA_EPOCHS,
  SMALL_DATA_ROWS,
  slrBatchSize,
  slrEpochs,
} from './slr/slr-config.js';
export { type SlrRuleConfig, slrHandler } from './slr/slr-handler.js';
export {
  evaluate,
  type SlrEvalPoint,
  type SlrEvaluation,
  type SlrProgress,
  type SlrShards,
  type SlrWorkerReport,
  type TrainSlrWorkerArgs,
  trainSlrWorker,
} from './slr/train-slr-worker.js';
export {
  type BrowserSlrData,
  type BrowserWorkerState,
  type BrowserWorkerStatus,
  type RunBrowserWorkerOptions,
  runBrowserWorker,
} from './web/run-browser-worker.js';
export { type DataAnswer, type SlrDataRouteOptions, slrDataRoute } from './web/serve-slr-data.js';
export { startWebServer, type WebRoute, type WebServer, type WebServerOptions } from './web/web-server.js';
export {
  BROWSER_WORKER_ID_PREFIX,
  type BrowserWorkerQuery,
  browserWorkerQuery,
  parseBrowserWorkerQuery,
} from './web/worker-query.js';
