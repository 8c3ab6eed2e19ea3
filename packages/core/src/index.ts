export { type AdaGradOptions, adagradHandler } from './adagrad-handler.js';
export { allocBytes } from './alloc-bytes.js';
export { assignHandler } from './assign-handler.js';
export { ClusterSecret, MIN_SECRET_BYTES, PROOF_BYTES } from './cluster-secret.js';
export type { ClusterView, NodeInfo } from './cluster-view.js';
export { configFromEnv, ENV_VARIABLES, type EnvConfig, parseHostPort } from './config.js';
export {
  boundedDelay,
  type Consistency,
  delayOf,
  eventual,
  parseConsistency,
  sequential,
} from './consistency.js';
export {
  type CreatedServer,
  type CreatedWorker,
  type CreateServerOptions,
  type CreateWorkerOptions,
  createServer,
  createWorker,
} from './create-node.js';
export { isPsError, isPsErrorCode, PsError, PsErrorCode } from './errors.js';
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
} from './filter.js';
export {
  concatParts,
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  FRAME_VERSION,
  frameLength,
} from './frame-codec.js';
export { type FtrlOptions, ftrlHandler } from './ftrl-handler.js';
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
} from './handshake.js';
export type { TrafficStats } from './internal/endpoint.js';
export { consoleLogger, type Logger, type LogLevel, logLevelFromEnv } from './internal/logger.js';
export { evenKeyRanges, KEY_SPACE_END, type KeyRange, lowerBound, rangeContains } from './key-range.js';
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
} from './kv-pairs.js';
export { type KVRequest, KVServer, type KVServerOptions, type RequestHandler } from './kv-server.js';
export { KVTable } from './kv-table.js';
export { KVWorker, type KVWorkerOptions, type RequestOptions, type Timestamp } from './kv-worker.js';
export {
  type Command,
  type Message,
  type Meta,
  type NodeAddress,
  type NodeId,
  type Role,
  SCHEDULER_ID,
  type Segment,
} from './message.js';
export {
  type Admission,
  type AdmissionResult,
  ConnectionLimits,
  type ConnectionLimitsOptions,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE,
} from './net/connection-limits.js';
export type {
  FrameAddress,
  FrameChannel,
  FrameChannelLimits,
  FrameTransport,
} from './net/frame-transport.js';
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
export { DEFAULT_MAX_QUEUED_BYTES, overQueueLimit, slowPeerError } from './net/slow-peer.js';
export { type GatedStream, type GateEntry, StreamInboundGate } from './net/stream-inbound-gate.js';
export { type TransportLimits, transportLimitsFromEnv } from './net/transport-limits.js';
export { type CustomerHandler, type NodeOptions, PsNode } from './ps-node.js';
export { type ClockSegment, RangeVectorClock } from './range-vector-clock.js';
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
} from './ring.js';
export { type CredentialRole, RoleSecrets, type RoleSecretValues } from './role-secrets.js';
export { type BarrierGroup, Scheduler, type SchedulerOptions } from './scheduler.js';
export { displacedSchedulerImpostor, refuseSchedulerImpostor } from './scheduler-impostor.js';
export { seededRandom } from './seeded-random.js';
export { type SgdOptions, sgdHandler } from './sgd-handler.js';
export type { DenseLayout, DenseRange } from './store/dense-range.js';
export { sumHandler } from './sum-handler.js';
export {
  type TableHandler,
  type TableHandlerOptions,
  tableHandler,
  type UpdateRule,
} from './table-handler.js';
export type { TableRange } from './table-range.js';
export {
  type DecodedSnapshot,
  decodeSnapshotMeta,
  decodeTableRange,
  encodeTableRange,
  SNAPSHOT_VERSION,
  type SnapshotMeta,
  type SnapshotSet,
} from './table-snapshot.js';
export { type IdleMeter, measureIdle, type TaskEvent } from './task-event.js';
export { isTlsAuthError } from './tls-auth-error.js';
export { DEFAULT_MAX_MESSAGES_PER_SECOND, TokenBucket } from './token-bucket.js';
export type { BindOptions, InboundFrame, PeerAddress, Transport, TransportEvent } from './transport.js';
