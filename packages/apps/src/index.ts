export * from './data/index.js';
export type { JobEvent, JobSummary } from './job/job-events.js';
export { JobInterrupted } from './job/job-interrupted.js';
export { type LocalClusterOptions, runLocalCluster } from './job/local-cluster.js';
export { openSlrData, type SlrData } from './job/open-slr-data.js';
export { preflightSlrData } from './job/preflight-slr-data.js';
export { createProgressDisplay, type ProgressDisplay } from './job/progress-display.js';
export type { ResolvedRoleSecrets } from './job/resolve-role-secrets.js';
export { loadSlrData, type RoleContext, roleMain, runSlrRole } from './job/run-role.js';
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
  type SlrConfig,
  type SlrOptimizer,
  SMALL_DATA_EPOCHS,
  SMALL_DATA_ROWS,
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
  type BrowserWorkerState,
  type BrowserWorkerStatus,
  type RunBrowserWorkerOptions,
  runBrowserWorker,
} from './web/run-browser-worker.js';
export { startWebServer, type WebServer, type WebServerOptions } from './web/web-server.js';
export {
  BROWSER_WORKER_ID_PREFIX,
  type BrowserWorkerQuery,
  browserWorkerQuery,
  parseBrowserWorkerQuery,
} from './web/worker-query.js';
