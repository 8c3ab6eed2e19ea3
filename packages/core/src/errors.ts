/**
 * Stable error codes of @ps. Every code is listed, with what to do about it, in `docs/errors.md`.
 * Codes never change meaning once released; new ones are added at the end.
 */
export const PsErrorCode = {
  /** KVPairs keys are not strictly increasing (an earlier key is larger than a later one). */
  KEYS_UNSORTED: 'PS_ERR_KEYS_UNSORTED',
  /** KVPairs keys contain the same key twice. */
  KEYS_DUPLICATE: 'PS_ERR_KEYS_DUPLICATE',
  /** `vals.length` is not a multiple of `keys.length` (KVPairs without `lens`). */
  VALS_LENGTH: 'PS_ERR_VALS_LENGTH',
  /** `lens.length` differs from `keys.length`, or a length is negative. */
  LENS_LENGTH: 'PS_ERR_LENS_LENGTH',
  /** The sum of `lens` does not equal `vals.length`. */
  LENS_SUM: 'PS_ERR_LENS_SUM',
  /** A value array of an unsupported type (use Float32Array or Float64Array). */
  DTYPE: 'PS_ERR_DTYPE',
  /** A push gives a key a different number of values than the server already stores for it. */
  LENS_CONFLICT: 'PS_ERR_LENS_CONFLICT',
  /** A frame is larger than the configured maximum (`maxFrameBytes`). */
  FRAME_TOO_LARGE: 'PS_ERR_FRAME_TOO_LARGE',
  /** A frame ended before the length its header announced. */
  FRAME_TRUNCATED: 'PS_ERR_FRAME_TRUNCATED',
  /** A frame's header or meta could not be decoded, or its segments do not add up. */
  FRAME_MALFORMED: 'PS_ERR_FRAME_MALFORMED',
  /** A message decoded but its meta is not a valid `@ps` message (wrong field types, unknown command). */
  MESSAGE_INVALID: 'PS_ERR_MESSAGE_INVALID',
  /** The connection handshake failed (another protocol or version, a bad hello, no hello in time). */
  HANDSHAKE: 'PS_ERR_HANDSHAKE',
  /** A message was addressed to, or came from, a node id this node does not know. */
  UNKNOWN_PEER: 'PS_ERR_UNKNOWN_PEER',
  /** A peer could not be reached within the reconnect window. */
  PEER_UNREACHABLE: 'PS_ERR_PEER_UNREACHABLE',
  /** The transport (or node) was closed; the operation cannot complete. */
  CLOSED: 'PS_ERR_CLOSED',
  /** Binding the listening address failed (port in use, permission). */
  BIND: 'PS_ERR_BIND',
  /** Configuration is missing or invalid (environment variables, options). */
  CONFIG: 'PS_ERR_CONFIG',
  /**
   * A data set an app was asked to train on cannot be used: an unknown name that is not a file,
   * a file that cannot be read or parsed, no training or no test rows, a single label, or the npm
   * package of a built-in data set is not installed.
   */
  DATASET: 'PS_ERR_DATASET',
  /** A request named an app id (table) for which the server has no handler. */
  UNKNOWN_APP: 'PS_ERR_UNKNOWN_APP',
  /** `wait(ts)` was called with a timestamp this worker never issued. */
  UNKNOWN_TIMESTAMP: 'PS_ERR_UNKNOWN_TIMESTAMP',
  /** The server's request handler threw; the message carries the handler's error. */
  HANDLER: 'PS_ERR_HANDLER',
  /**
   * An operation did not complete within its time limit: `PsNode.start` (joining the cluster), or
   * a request whose servers did not answer within the worker's `requestTimeoutMs` (the message
   * names the server and how long the worker waited, resending meanwhile).
   */
  TIMEOUT: 'PS_ERR_TIMEOUT',
  /**
   * A server got a resend of a push older than its delivery window (it evicted the record for
   * room), so it cannot tell whether it applied it: it refuses rather than apply it twice. Raise
   * the KVServer's `window` option, or keep fewer requests in flight.
   */
  WINDOW: 'PS_ERR_WINDOW',
  /** The cluster is shutting down; pending requests are rejected. */
  SHUTDOWN: 'PS_ERR_SHUTDOWN',
  /** The scheduler declared a node dead (it missed heartbeats), or a node lost the scheduler. */
  NODE_DEAD: 'PS_ERR_NODE_DEAD',
  /**
   * This node was declared dead by the scheduler (it was silent past the heartbeat timeout: a
   * pause, a partition, an overloaded host), and the cluster moved on without it: the scheduler
   * answers its heartbeats so, and peers refuse its requests. The node stops serving and exits
   * (`ps start`: exit code 3); restart it, and it joins as a new node. A request a fenced server
   * refuses is resent by the worker to the range's new owner.
   */
  FENCED: 'PS_ERR_FENCED',
  /**
   * A node registered under the id of a live node (a misconfigured id, or an impostor holding the
   * cluster secret). The registration is refused; the live node keeps its id, and heartbeats sent
   * under its id by anyone else are ignored, so its death is still detected in time.
   */
  DUPLICATE_ID: 'PS_ERR_DUPLICATE_ID',
  /** More nodes of a role tried to register than the cluster was configured for. */
  CLUSTER_FULL: 'PS_ERR_CLUSTER_FULL',
  /** A message arrived that is valid but unexpected in this role or state. */
  PROTOCOL: 'PS_ERR_PROTOCOL',
  /** A task named a dependency that is not an earlier task of the same worker. */
  DEPS: 'PS_ERR_DEPS',
  /** A node's filter chain differs from the cluster's (every node must list the same filters). */
  FILTER_MISMATCH: 'PS_ERR_FILTER_MISMATCH',
  /**
   * A request named its keys by a key-caching signature the receiver does not hold (it restarted
   * or evicted the list). The worker resends the request with its keys; users see it only if the
   * resend fails too.
   */
  KEY_CACHE_MISS: 'PS_ERR_KEY_CACHE_MISS',
  /**
   * A request reached a server that does not own all of its keys on its ring (the ring changed:
   * a server joined, left or died). The worker re-slices by the newer ring and resends; users see
   * it only when the ring does not settle in time.
   */
  WRONG_OWNER: 'PS_ERR_WRONG_OWNER',
  /** A replica could not take a forwarded push or range copy (it runs another handler, or no table). */
  REPLICATION: 'PS_ERR_REPLICATION',
  /** Bytes given as a table snapshot are not a whole, well-formed one (truncated, corrupt, another version). */
  SNAPSHOT: 'PS_ERR_SNAPSHOT',
  /**
   * Authentication failed at a connection's handshake: the peers' cluster secrets differ, one has
   * a secret and the other none, a proof is wrong (a forged or replayed handshake), a peer claims
   * an identity it may not have, or TLS failed (an untrusted certificate, a plain peer on a TLS
   * port). The connection is refused; the secret itself never travels.
   */
  AUTH: 'PS_ERR_AUTH',
  /**
   * A peer went past a per-connection or per-transport limit: more messages per second than
   * `maxMessagesPerSecond`, or more connections waiting for their handshake than
   * `maxPendingHandshakes` (in all, or from one address: `maxPendingHandshakesPerSource`). The
   * connection is closed; the node keeps serving.
   */
  RATE_LIMIT: 'PS_ERR_RATE_LIMIT',
  /** A listening transport has `maxConnections` connections open; a new one is closed at once. */
  CONNECTION_LIMIT: 'PS_ERR_CONNECTION_LIMIT',
  /**
   * A peer announced a frame larger than the node's whole inbound buffer (`maxInboundBufferBytes`):
   * it could never be gathered, so the connection is closed.
   */
  INBOUND_BUDGET: 'PS_ERR_INBOUND_BUDGET',
  /**
   * A peer does not read what this node sends: its connection's outbound queue would pass
   * `maxQueuedBytes`. The connection is closed; its queued sends reject with this code.
   */
  SLOW_PEER: 'PS_ERR_SLOW_PEER',
  /**
   * The buffer given as `into` to `pull` or `pushPull` does not hold the answer: its length is not
   * the number of values the request reads (keys × values per key), or it is not a Float32Array
   * or Float64Array.
   */
  INTO_LENGTH: 'PS_ERR_INTO_LENGTH',
  /**
   * A node registered again (after losing its scheduler) with the state of another run than the
   * scheduler's: the scheduler was started afresh, not to recover that run. The node stops; start
   * the scheduler with `recover` and the run's id, or restart the node to join the new run.
   */
  RUN_MISMATCH: 'PS_ERR_RUN_MISMATCH',
  /**
   * A scheduler task failed: its executor threw something other than a `PsError` on a node, or a
   * task it depends on failed (so it never ran). `scheduler.tasks.wait(id)` rejects with it.
   */
  TASK_FAILED: 'PS_ERR_TASK_FAILED',
  /** A node received a scheduler task whose name it has no executor for (`node.tasks.handle`). */
  NO_EXECUTOR: 'PS_ERR_NO_EXECUTOR',
  /** `scheduler.tasks.issue` would give a node more unfinished tasks than `maxPendingPerNode`. */
  TASK_LIMIT: 'PS_ERR_TASK_LIMIT',
  /** A task id that the scheduler never issued (`scheduler.tasks.wait`, `deps`). */
  UNKNOWN_TASK: 'PS_ERR_UNKNOWN_TASK',
  /**
   * A range pull's bounds or options are not valid: `begin` and `end` must be bigints with
   * `0 <= begin <= end <= 2^64`, `limit` and `maxBytes` positive integers.
   */
  RANGE_INVALID: 'PS_ERR_RANGE_INVALID',
  /**
   * A range pull's answer would not fit one frame (more than its byte budget): page through the
   * range with `limit` (or `maxBytes`) and continue from each page's `next`.
   */
  RANGE_TOO_LARGE: 'PS_ERR_RANGE_TOO_LARGE',
  /**
   * A range pull reached a server whose handler is not table-backed (a custom `RequestHandler`):
   * it has no stored keys to enumerate. Use a built-in handler, or pull named keys.
   */
  RANGE_UNSUPPORTED: 'PS_ERR_RANGE_UNSUPPORTED',
  /**
   * A worker's progress clock was given a bad iteration (not an integer from 0 to 2^31 − 1, or
   * below one already reported by `finish`), a bad delay τ or a bad `timeoutMs` to `waitFor`, or
   * `node.progress` was asked of a server.
   */
  PROGRESS: 'PS_ERR_PROGRESS',
  /**
   * Sync mode (aggregation on servers) was misused: a push without an iteration to a server in
   * sync mode (or with one to an app that is not), a pushPull, a push with `lens` or of another
   * width than the iteration's, or a server started with `sync` in a cluster whose scheduler was not.
   */
  SYNC: 'PS_ERR_SYNC',
  /**
   * A push opened more iterations on a server in sync mode than its cap (`sync.maxOpenIterations`):
   * some live worker has not pushed the older ones. Wait for each iteration's push (or pull the
   * next iteration) before pushing further ahead, or raise the cap.
   */
  SYNC_BACKLOG: 'PS_ERR_SYNC_BACKLOG',
  /**
   * The cluster could not be read from the environment: an orchestrator's variables (ps-lite's
   * `DMLC_*`, a Kubernetes JobSet or Indexed Job, Slurm) are incomplete, or disagree with the
   * `PS_*` ones. The message names the variable to set or unset (see `resolveClusterEnv`).
   */
  CLUSTER_ENV: 'PS_ERR_CLUSTER_ENV',
  /**
   * A periodic checkpoint cannot be taken or resumed from: `--checkpoint-every` without
   * `--checkpoint-dir`, in sync mode, or a checkpoint directory whose manifests name no data.
   */
  CHECKPOINT: 'PS_ERR_CHECKPOINT',
} as const;

/** One of the stable `PS_ERR_*` codes. */
export type PsErrorCode = (typeof PsErrorCode)[keyof typeof PsErrorCode];

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(PsErrorCode));

/** True when `code` is one of the stable `PS_ERR_*` codes. */
export function isPsErrorCode(code: unknown): code is PsErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/**
 * The one error type of @ps. `code` is stable (see {@link PsErrorCode} and `docs/errors.md`);
 * `message` says what happened and what to do. `details` carries structured context (offending
 * index, peer id, sizes) for logs and tests.
 */
export class PsError extends Error {
  override readonly name = 'PsError';
  readonly code: PsErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: PsErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.details = details;
  }

  /** A plain object for the wire (the code and the message without the code prefix). */
  toWire(): { code: PsErrorCode; message: string } {
    return { code: this.code, message: this.message.slice(this.code.length + 2) };
  }

  /** Rebuilds an error received from a peer; unknown codes become `PS_ERR_PROTOCOL`. */
  static fromWire(wire: unknown): PsError {
    if (wire && typeof wire === 'object') {
      const { code, message } = wire as { code?: unknown; message?: unknown };
      const text = typeof message === 'string' ? message : 'remote error without message';
      if (isPsErrorCode(code)) return new PsError(code, text, { remote: true });
      return new PsError(PsErrorCode.PROTOCOL, `remote error with unknown code ${String(code)}: ${text}`);
    }
    return new PsError(PsErrorCode.PROTOCOL, 'remote error of unknown shape');
  }
}

/** True when `err` is a {@link PsError}, optionally with the given code. */
export function isPsError(err: unknown, code?: PsErrorCode): err is PsError {
  return err instanceof PsError && (code === undefined || err.code === code);
}
