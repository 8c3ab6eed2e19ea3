export {
  boundedDelay,
  type Consistency,
  delayOf,
  eventual,
  parseConsistency,
  sequential,
} from './consistency/consistency.js';
export { IterationSum } from './consistency/iteration-sum.js';
export {
  EMPTY_PROGRESS_CLOCK,
  type ProgressClock,
  slowestOf,
  stalenessOf,
} from './consistency/progress-clock.js';
export { type ClockSegment, RangeVectorClock } from './consistency/range-vector-clock.js';
export {
  SyncAggregator,
  type SyncHooks,
  type SyncOptions,
  type SyncPush,
} from './consistency/sync-aggregator.js';
export { type IdleMeter, measureIdle, type TaskEvent } from './consistency/task-event.js';
export {
  type GraphTask,
  type NodeTaskState,
  TaskGraph,
  type TaskGraphEvent,
  type TaskGraphOptions,
  type TaskId,
  type TaskResults,
  type TaskState,
} from './consistency/task-graph.js';
export { type TaskContext, type TaskExecutor, TaskRunner } from './consistency/task-runner.js';
export { type ProgressWaitOptions, WorkerProgress } from './consistency/worker-progress.js';
export {
  type CreatedServer,
  type CreatedWorker,
  type CreateServerOptions,
  type CreateWorkerOptions,
  createServer,
  createWorker,
} from './create-node.js';
export { isPsError, isPsErrorCode, PsError, PsErrorCode } from './errors.js';
export { type AdaGradOptions, adagradHandler } from './handlers/adagrad-handler.js';
export { type AdamOptions, adamHandler } from './handlers/adam-handler.js';
export { assignHandler } from './handlers/assign-handler.js';
export { assignWeightsHandler } from './handlers/assign-weights-handler.js';
export { type FtrlOptions, ftrlHandler } from './handlers/ftrl-handler.js';
export { type MomentumOptions, momentumHandler } from './handlers/momentum-handler.js';
export { type SgdOptions, sgdHandler } from './handlers/sgd-handler.js';
export { sumHandler } from './handlers/sum-handler.js';
export {
  type TableHandler,
  type TableHandlerOptions,
  tableHandler,
  type UpdateRule,
} from './handlers/table-handler.js';
export { consoleLogger, type Logger, type LogLevel, logLevelFromEnv } from './internal/logger.js';
export { seededRandom } from './internal/seeded-random.js';
export { type KVRequest, KVServer, type KVServerOptions, type RequestHandler } from './kv-server.js';
export {
  KVWorker,
  type KVWorkerOptions,
  type PullOptions,
  type RangePullOptions,
  type RequestOptions,
  type Timestamp,
} from './kv-worker.js';
export type { ClusterView, NodeInfo } from './membership/cluster-view.js';
export { configFromEnv, ENV_VARIABLES, type EnvConfig, parseHostPort } from './membership/config.js';
export {
  DEFAULT_VIRTUAL_NODES,
  type KeySlice,
  type MovedRange,
  movedRanges,
  type OwnedRange,
  Ring,
  type RingOptions,
  ringPosition,
  type WireRing,
} from './membership/ring.js';
export { ringChanges } from './membership/ring-changes.js';
export { type BarrierGroup, Scheduler, type SchedulerOptions } from './membership/scheduler.js';
export {
  TaskIssuer,
  type TaskIssuerOptions,
  type TaskSpec,
} from './membership/task-issuer.js';
export {
  type DurationHistogram,
  REQUEST_DURATION_BUCKETS,
  REQUEST_KINDS,
  type RequestKind,
  RequestMetrics,
  requestKind,
} from './metrics/request-metrics.js';
export { BusyPoll, type BusyPollStats, busyPollWindowMs, DEFAULT_BUSY_POLL_US } from './net/busy-poll.js';
export { ClusterSecret, MIN_SECRET_BYTES, PROOF_BYTES } from './net/cluster-secret.js';
export {
  type Admission,
  type AdmissionResult,
  ConnectionLimits,
  type ConnectionLimitsOptions,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE,
} from './net/connection-limits.js';
export type { TrafficStats } from './net/endpoint.js';
export type {
  FrameAddress,
  FrameChannel,
  FrameChannelLimits,
  FrameTransport,
} from './net/frame-transport.js';
export {
  AUTH_ALGORITHM,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  decodeHello,
  encodeHello,
  HANDSHAKE_NONCE_BYTES,
  HANDSHAKE_PROTOCOL,
  Handshake,
  type HandshakeOptions,
  type HandshakeSide,
  type HandshakeStep,
  type Hello,
  MAX_NODE_ID_LENGTH,
} from './net/handshake.js';
export {
  type BudgetClaim,
  DEFAULT_MAX_INBOUND_BUFFER_BYTES,
  INBOUND_BUDGET_EXEMPT_BYTES,
  InboundBudget,
} from './net/inbound-budget.js';
export {
  HELLO_MAX_BYTES,
  MessageLayer,
  type MessageLayerOptions,
  messageLayer,
} from './net/message-layer.js';
export { DEFAULT_RECEIVE_WINDOW, type ReceiveWindowLimits } from './net/receive-window.js';
export { DEFAULT_RESEND_TIMING, type ResendTiming } from './net/resend-table.js';
export { type CredentialRole, RoleSecrets, type RoleSecretValues } from './net/role-secrets.js';
export { displacedSchedulerImpostor, refuseSchedulerImpostor } from './net/scheduler-impostor.js';
export { DEFAULT_MAX_QUEUED_BYTES, overQueueLimit, slowPeerError } from './net/slow-peer.js';
export { type GatedStream, type GateEntry, StreamInboundGate } from './net/stream-inbound-gate.js';
export { isTlsAuthError } from './net/tls-auth-error.js';
export { DEFAULT_MAX_MESSAGES_PER_SECOND, TokenBucket } from './net/token-bucket.js';
export type { BindOptions, InboundFrame, PeerAddress, Transport, TransportEvent } from './net/transport.js';
export { type TransportLimits, transportLimitsFromEnv } from './net/transport-limits.js';
export { type CustomerHandler, type NodeOptions, PsNode } from './ps-node.js';
export type { RangePage } from './range/range-page.js';
export { DEFAULT_RANGE_BYTES, type RangeLimits } from './range/range-request.js';
export {
  type RangeReplication,
  REPLICATION_STATE_INTERVAL_MS,
  type ReplicationState,
} from './replication/replication-state.js';
export { batchKeys } from './serving/batch-keys.js';
export type { UpdateBatch } from './serving/update-feed.js';
export { UpdateSubscription } from './serving/update-subscription.js';
export {
  DEFAULT_UPDATE_BATCH_KEYS,
  DEFAULT_UPDATE_INTERVAL_MS,
  type UpdatesOptions,
} from './serving/updates-options.js';
export type { DenseLayout, DenseRange } from './store/dense-range.js';
export { KVTable, type KVTableOptions } from './store/kv-table.js';
export type { RangeScan, ScanBudget } from './store/range-scan.js';
export type { TableRange } from './store/table-range.js';
export {
  type DecodedSnapshot,
  decodeSnapshotMeta,
  decodeTableRange,
  encodeTableRange,
  SNAPSHOT_VERSION,
  type SnapshotMeta,
  type SnapshotSet,
} from './store/table-snapshot.js';
export { allocBytes } from './wire/alloc-bytes.js';
export {
  type AppFilters,
  chainFor,
  chainSignature,
  chainsSignature,
  decodeChain,
  encodeChain,
  type Filter,
  type FilterContext,
  type FilterStats,
  segmentBytes,
} from './wire/filter.js';
export {
  concatParts,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  FRAME_VERSION,
  frameLength,
} from './wire/frame-codec.js';
export {
  cachesKeyLists,
  KEY_LIST_REUSE,
  type KeyListReuseFilter,
  type KeyListReuseMeta,
  type KeyListReuseOptions,
  type KeyListReuseStats,
  keyListReuse,
} from './wire/key-list-reuse.js';
export { evenKeyRanges, KEY_SPACE_END, type KeyRange, lowerBound, rangeContains } from './wire/key-range.js';
export {
  allocVals,
  dtypeOf,
  type KVPairs,
  keyWords,
  type ValArray,
  type ValArrayOf,
  type ValDtype,
  validateKeys,
  validateKVPairs,
  validateLens,
} from './wire/kv-pairs.js';
export {
  LargeBufferPool,
  type LargeBufferPoolOptions,
  type LargeBufferPoolStats,
  largeBufferPool,
} from './wire/large-buffer-pool.js';
export {
  type Command,
  type Message,
  type Meta,
  type NodeAddress,
  type NodeId,
  type Role,
  SCHEDULER_ID,
  type Segment,
} from './wire/message.js';
export { sealKeys } from './wire/seal-keys.js';
