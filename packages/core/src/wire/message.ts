/**
 * Identifies a node in a cluster. The scheduler's id is {@link SCHEDULER_ID}; servers and
 * workers choose a unique id when they start (by default `server-<hex>` / `worker-<hex>`)
 * and receive a rank from the scheduler.
 */
export type NodeId = string;

/** The well-known id of the scheduler, so that nodes can reach it knowing only its address. */
export const SCHEDULER_ID: NodeId = 'scheduler';

/** Node roles, as in the paper and ps-lite. */
export type Role = 'scheduler' | 'server' | 'worker';

/** Where a node listens (or, for a pure client such as a worker, where it says it runs). */
export interface NodeAddress {
  id: NodeId;
  host: string;
  /** TCP/WS port; 0 asks the OS for a free one (bind resolves the real port). */
  port: number;
}

/** Control commands exchanged between nodes and the scheduler. Data messages carry none. */
export type Command =
  | 'register'
  | 'cluster'
  | 'barrier'
  | 'barrier-done'
  | 'heartbeat'
  | 'worker-done'
  | 'terminate'
  | 'leave'
  | 'migrate'
  | 'migrate-done'
  | 'replicate'
  | 'replicate-ack'
  | 'range-copy'
  | 'task'
  | 'task-state'
  | 'progress'
  | 'progress-clock';

/** All commands, for validation of incoming meta. */
export const COMMANDS: ReadonlySet<string> = new Set<Command>([
  'register',
  'cluster',
  'barrier',
  'barrier-done',
  'heartbeat',
  'worker-done',
  'terminate',
  'leave',
  'migrate',
  'migrate-done',
  'replicate',
  'replicate-ack',
  'range-copy',
  'task',
  'task-state',
  'progress',
  'progress-clock',
]);

/** Commands only the scheduler may send (a node ignores them from anyone else). */
export const SCHEDULER_COMMANDS: ReadonlySet<string> = new Set<Command>([
  'cluster',
  'barrier-done',
  'heartbeat',
  'terminate',
  'migrate',
  'task',
  'progress-clock',
]);

/** Commands servers exchange for replication and range moves (a node takes them only from servers). */
export const REPLICA_COMMANDS: ReadonlySet<string> = new Set<Command>([
  'replicate',
  'replicate-ack',
  'range-copy',
]);

/**
 * The small plain header of every message, encoded with msgpack. Data messages (push, pull)
 * carry `app`, `ts`, `request`, `push`, `pull`; control messages carry `cmd` and `body`.
 */
export interface Meta {
  /** Sender node id (filled in by the node on send). */
  sender: NodeId;
  /** Recipient node id (filled in by the node on send). */
  recipient: NodeId;
  /** App id: the table (namespace) this message belongs to. 0 for control messages. */
  app: number;
  /** Timestamp of the request this message is or answers (per sender and app). */
  ts: number;
  /** True for a request, false for its response. */
  request: boolean;
  /** The request pushes values. */
  push: boolean;
  /** The request pulls values. */
  pull: boolean;
  /** Control command; absent on data messages. */
  cmd?: Command;
  /** Control payload (any msgpack-encodable value). */
  body?: unknown;
  /**
   * Earlier requests of the same sender (timestamps) that this server must apply before this
   * one; only those that reached this server and had not finished when it was sent.
   */
  deps?: number[];
  /** Every request of the sender below this timestamp has finished (lets a server forget them). */
  done?: number;
  /**
   * On a data request: the version of the ring the sender sliced it by. A server with an older
   * ring holds the request until its ring catches up; one with a newer ring that no longer owns
   * the keys answers `PS_ERR_WRONG_OWNER`.
   */
  ring?: number;
  /** On a data request and its response: which slice of the task this is (the worker's index). */
  part?: number;
  /**
   * On a data request: the keys were sent before (to a server that died or gave the range away),
   * so the server drops what its range vector clocks say it already applied.
   */
  resend?: boolean;
  /**
   * On a data request: the sender's incarnation, random hex chosen when its KVWorker is made. With
   * `ts` and `part` it names the request exactly once across resends; a restarted sender with the
   * same id has a new incarnation, so its new requests are never taken for old ones.
   */
  inc?: string;
  /**
   * On a range pull request: its key ranges and limits; on the answer: where the range goes on
   * (see `range/range-request.ts` and `range/range-page.ts`, which read and check it).
   */
  range?: unknown;
  /**
   * On a data request to a server in sync mode: the iteration the push belongs to (summed with
   * the other workers' pushes of that iteration), or the iteration a pull reads (answered once
   * every earlier iteration is applied).
   */
  iter?: number;
  /** Per-filter state of this message (see `Filter`), under each filter's name. */
  filters?: Record<string, unknown>;
  /** Set on a response whose request failed: the remote `PsError` code and message. */
  error?: { code: string; message: string };
}

/** A raw data segment: sent as its bytes, received as a typed view of the same dtype. */
export type Segment = Uint8Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigUint64Array;

/**
 * A message: `meta` plus raw data segments. Data messages carry `[keys, vals]` or
 * `[keys, vals, lens]` (BigUint64Array, Float32Array|Float64Array, Int32Array).
 */
export interface Message {
  meta: Meta;
  data: Segment[];
}
