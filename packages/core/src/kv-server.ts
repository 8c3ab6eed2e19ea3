import type { Observable, Subscription } from 'rxjs';
import type { SyncOptions } from './consistency/sync-aggregator.js';
import { SyncMode } from './consistency/sync-mode.js';
import { PsError, PsErrorCode } from './errors.js';
import type { TableHandler } from './handlers/table-handler.js';
import { forwardsOf, releasablePushFrame } from './internal/push-frame-release.js';
import type { ClusterView } from './membership/cluster-view.js';
import { RequestMetrics, requestKind } from './metrics/request-metrics.js';
import type { ReceiveWindowLimits } from './net/receive-window.js';
import type { ResendTiming } from './net/resend-table.js';
import type { PsNode } from './ps-node.js';
import { serveRange } from './range/serve-range.js';
import { Replication } from './replication/replication.js';
import type { ReplicationState } from './replication/replication-state.js';
import { type UpdateBatch, UpdateFeed } from './serving/update-feed.js';
import type { UpdateSubscription } from './serving/update-subscription.js';
import type { UpdatesOptions } from './serving/updates-options.js';
import type { KVTable } from './store/kv-table.js';
import { dtypeOf, type KVPairs, type ValArray, validateKVPairs, validateLens } from './wire/kv-pairs.js';
import { largeBufferPool } from './wire/large-buffer-pool.js';
import { type LocalHint, localHintOf } from './wire/local-frame.js';
import type { Message, NodeId, Segment } from './wire/message.js';
import { claimAnswerBuffer } from './wire/owned-answer.js';
import { ValidatedKeys } from './wire/validated-keys.js';

/** A request as a server's handler sees it. */
export interface KVRequest {
  sender: NodeId;
  app: number;
  ts: number;
  push: boolean;
  pull: boolean;
  /**
   * Set when these keys are byte-identical to the sender's previous request with the same tag
   * (a long list validated once and seen again): handlers may reuse what they derived from it.
   */
  keysTag?: number | undefined;
  /**
   * The request's keys (sorted, validated) and, for a push, its values. For a pure pull `vals`
   * is an empty Float32Array and `lens` is undefined. Read-only: the keys may be a list that
   * key-list reuse shares between requests (keep them if you like, never change them in place).
   */
  kv: KVPairs;
  /**
   * Where the answer's values may go: the worker's `into` buffer, given only when that worker
   * runs in this thread and the request is its first send of the whole key list. A handler that
   * answers `width × keys.length` values of this array's type may write them here, before it
   * returns (not after an await), and return it as `vals`; the worker then skips its copy. It may
   * also ignore it.
   */
  out?: ValArray | undefined;
  /**
   * @internal Set when the answer's memory comes back once it was written (a transport whose sends
   * resolve after the write, filters that keep no views: see `claimAnswerBuffer`): the built-in
   * table handler then takes a large answer from `largeBufferPool`. Elsewhere (in process, where
   * the answer is handed over by reference) it allocates one of the exact size.
   */
  answerReturns?: boolean | undefined;
  /**
   * On an iteration's sum (sync mode; `sender` is then the master server): the worker pushes
   * summed in it, as `[sender, incarnation, ts]`, given to the master's handler and carried to
   * the replicas. Update rules ignore it; a handler may count it.
   */
  contributors?: [NodeId, string, number][] | undefined;
}

/**
 * The user-defined function on the server (the paper's user-defined functions on the server,
 * section 3.3; ps-lite's request handle). It applies a push and answers a pull: for a request
 * with `pull` it returns the values of `req.kv.keys` (same keys, same order); for a pure push
 * it returns nothing. It may return a Promise. A thrown `PsError` is sent back to the worker
 * with its code; anything else thrown becomes `PS_ERR_HANDLER`.
 */
export type RequestHandler = (
  req: KVRequest,
) => KVPairs | undefined | undefined | Promise<KVPairs | undefined>;

/** Options of {@link KVServer}. */
export interface KVServerOptions {
  /** App id (table) this server serves. Default 0. */
  app?: number;
  /** What the server does with pushes and pulls, e.g. `sumHandler()` or `ftrlHandler({...})`. */
  handler: RequestHandler;
  /**
   * Bounds of the per-worker window of recent pushes that makes requests exactly-once (default
   * 4,096 requests and 32 MiB of remembered keys per worker). A worker's resend older than the
   * window is refused with `PS_ERR_WINDOW` instead of being applied twice.
   */
  window?: ReceiveWindowLimits;
  /**
   * When a forward to a replica (or a range copy) that was not acknowledged is sent again
   * (default first after 2 s, doubling to 8 s; also at once when the connection comes back).
   * Forwards are resent until they land or the scheduler declares the replica dead.
   */
  resend?: ResendTiming;
  /**
   * Sync mode (aggregation on servers): per iteration (`push(kv, { iteration: t })`), sum the
   * pushes of the live workers, apply the handler once to the sum, replicate the sum once, and
   * only then acknowledge those pushes and answer the iteration's pulls. `true` or options turn
   * it on, `false` off (an app of a sync cluster that applies pushes on arrival); default: as the
   * cluster's view says (`Scheduler.start({ sync: true })`). On in a cluster whose view says
   * otherwise, pushes are refused with `PS_ERR_SYNC`. Needs a handler that applies a push
   * synchronously (the built-ins).
   */
  sync?: boolean | SyncOptions;
}

const EMPTY_VALS = new Float32Array(0);

interface SenderOrder {
  /** Timestamps at or above `doneBelow` whose requests were applied here. */
  applied: Set<number>;
  /** The sender said every request below this had finished. */
  doneBelow: number;
  /** Requests waiting for their dependencies, in arrival order. */
  waiting: Message[];
}

/**
 * The server side of one app id: receives push and pull requests sliced to this server's key
 * ranges, runs the handler, and responds. Bad requests (unsorted keys, wrong lengths) are
 * answered with their `PsError` and change nothing.
 *
 * With replicas (the view's `replicas` k > 0, section 4.3), a push is applied and sent down the
 * chain of each range it touches (the next k servers on the ring, one after the other: each
 * applies it and forwards it to the next), and acknowledged to the worker only once the chain's
 * tail holds it; a request for keys this server does not own on its ring is answered
 * `PS_ERR_WRONG_OWNER`, and resent pushes already applied (by range vector clock) are dropped.
 * Replication needs a table-backed handler (the built-ins) to copy ranges to new replicas.
 */
export class KVServer {
  readonly app: number;
  /** Requests handled and failed, for logs and tests. */
  readonly counters = { requests: 0, errors: 0 };
  /** Requests admitted by kind (a resent copy of one already here not again), for metrics collectors. */
  readonly requestMetrics = new RequestMetrics();
  private readonly handler: RequestHandler;
  /** Per sender, the last long key list that passed validation. */
  private readonly validated = new Map<NodeId, ValidatedKeys>();
  private lastTag = -1;
  /** Per sender: what has been applied, and requests waiting for their dependencies. */
  private readonly order = new Map<NodeId, SenderOrder>();
  /** @internal Ring membership, ownership checks, clocks, forwarding and range copies (counters for logs and tests). */
  readonly replicas: Replication;
  /** @internal Aggregation on servers, when on (see {@link KVServerOptions.sync}). */
  readonly sync: SyncMode;
  private readonly sub: Subscription;
  /** Keys of the pushes applied here, for `updates$` subscribers (idle without them). */
  private readonly feed: UpdateFeed;

  constructor(
    readonly node: PsNode,
    opts: KVServerOptions,
  ) {
    this.app = opts.app ?? 0;
    this.handler = opts.handler;
    this.replicas = new Replication(node, this.app, this.handler, (msg) => this.admit(msg), {
      ...(opts.window ? { window: opts.window } : {}),
      ...(opts.resend ? { resend: opts.resend } : {}),
    });
    this.sync = new SyncMode(node.id, this.app, this.handler, this.replicas, node.log, opts.sync);
    this.feed = new UpdateFeed(this.table ? (keys) => this.readValues(keys) : undefined);
    node.attach(this.app, 'server', (msg) => this.replicas.onRequest(msg));
    node.attachReplica(this.app, this.replicas);
    this.sub = node.cluster$.subscribe((view) => {
      if (!view) return;
      this.sync.onView(view as ClusterView);
      this.replicas.onView(view as ClusterView);
    });
    const links = node.links$.subscribe((ev) => {
      if (ev.type === 'connected') this.replicas.reconnected(ev.peer);
    });
    node.onTerminate(() => {
      this.sub.unsubscribe();
      links.unsubscribe();
      this.replicas.close();
      this.feed.close();
    });
  }

  /**
   * Runs a request once the requests it names (`meta.deps`, from the same sender) have been
   * applied here, so the order survives out-of-order delivery; a request whose dependencies are
   * missing waits in the sender's queue.
   */
  /** The handler's table, when it is table-backed (the built-in handlers); for snapshots. */
  get table(): KVTable | undefined {
    return (this.handler as Partial<TableHandler>).table;
  }

  /** The name of the handler's update rule (`sum`, `adagrad`, ...), or `custom`. */
  get handlerName(): string {
    return (this.handler as Partial<TableHandler>).rule?.name ?? 'custom';
  }

  /**
   * Batches of the keys updated on this server, for serving a model while it trains: each push
   * this server applies as the keys' master (a replica's copies are not reported: every key
   * appears on its master's stream only, so the streams of all servers together name each pushed
   * key, and a server's stream names the keys it owns). Each batch is the keys updated since the
   * previous one, strictly increasing, each once however often it changed; with `values: true`,
   * also their values when the batch was cut. A batch is cut `intervalMs` after its first key or
   * at once when `maxKeys` keys are held (see {@link UpdatesOptions}); the stream completes when
   * the node terminates. Batches are delivered synchronously and nothing queues in between: a
   * consumer slower than the updates should use {@link KVServer.subscribeUpdates}, which
   * coalesces instead. Nobody subscribed, the server does no work for it.
   * @throws PsError `PS_ERR_CONFIG` for bad options, or `values: true` without a table-backed handler.
   */
  updates$(opts?: UpdatesOptions): Observable<UpdateBatch> {
    return this.feed.updates$(opts);
  }

  /**
   * The pull form of {@link KVServer.updates$} for a slow consumer: `for await (const batch of
   * server.subscribeUpdates({ maxKeys }))`. While the consumer works, updated keys are coalesced
   * (each held once), so it gets fewer, fuller batches and memory stays bounded by the keys that
   * changed; see {@link UpdateSubscription}. Call `close()` (or leave the loop) to stop.
   * @throws PsError `PS_ERR_CONFIG` as `updates$`.
   */
  subscribeUpdates(opts?: UpdatesOptions): UpdateSubscription {
    return this.feed.subscribe(opts);
  }

  /**
   * This server's replication state for its app: per key range it holds (as master or replica),
   * the range's chain (master first) and its lag, the pushes forwarded in the range and not yet
   * acknowledged, in requests. Emits the current state on subscribe, then on change (a view, a
   * forward sent or acknowledged), throttled to at most one state per 100 ms plus the last
   * change of each interval, and only when the state differs; completes when the node terminates.
   */
  get replication$(): Observable<ReplicationState> {
    return this.replicas.state.state$;
  }

  /** The current values of `keys` in the handler's table (a pull on this server, for `values`). */
  private readValues(keys: BigUint64Array): KVPairs {
    const kv = { keys, vals: EMPTY_VALS };
    const req: KVRequest = { sender: this.node.id, app: this.app, ts: 0, push: false, pull: true, kv };
    return this.handler(req) as KVPairs;
  }

  private admit(msg: Message): void {
    const { meta } = msg;
    this.counters.requests++;
    if (meta.push && !this.firstCopy(msg)) return;
    this.requestMetrics.count(requestKind(meta.push, meta.pull));
    const order = this.orderOf(meta.sender);
    if (meta.done !== undefined && meta.done > order.doneBelow) {
      order.doneBelow = meta.done;
      for (const ts of order.applied) if (ts < order.doneBelow) order.applied.delete(ts);
    }
    if (this.ready(order, msg)) this.run(order, msg);
    else order.waiting.push(msg);
    this.drain(order);
  }

  /**
   * Exactly-once for pushes: a copy of a push part still running here is dropped (its answer
   * will come), one already answered gets the same answer again (a push's ack; a pushPull reads
   * afresh, applying nothing twice), a copy the worker already called finished is dropped, and
   * a resend older than the window is refused. Returns true when the request must run.
   */
  private firstCopy(msg: Message): boolean {
    const { meta } = msg;
    const w = this.replicas.window;
    const inc = meta.inc ?? '';
    const part = meta.part ?? 0;
    w.done(meta.sender, inc, meta.done);
    const state = w.state(meta.sender, inc, meta.ts, part, meta.resend === true);
    switch (state) {
      case 'running':
      case 'stale':
        return false;
      case 'answered':
        if (!meta.pull) {
          this.respond(msg, undefined);
          return false;
        }
        return true; // the window's keys say nothing is applied again; the pull is fresh
      case 'forgotten':
        this.respondError(
          msg,
          new PsError(
            PsErrorCode.WINDOW,
            `push ${meta.ts} from ${meta.sender} was resent after this server's delivery window forgot it; raise the KVServer's window option`,
          ),
        );
        return false;
      default:
        w.mark(meta.sender, inc, meta.ts, part, 'running');
        return true;
    }
  }

  private orderOf(sender: NodeId): SenderOrder {
    let o = this.order.get(sender);
    if (!o) {
      o = { applied: new Set(), doneBelow: 0, waiting: [] };
      this.order.set(sender, o);
    }
    return o;
  }

  private ready(order: SenderOrder, msg: Message): boolean {
    const deps = msg.meta.deps;
    if (!deps) return true;
    for (const d of deps) if (d >= order.doneBelow && !order.applied.has(d)) return false;
    return true;
  }

  /** Runs waiting requests whose dependencies are now applied, until none is. */
  private drain(order: SenderOrder): void {
    for (let progress = true; progress && order.waiting.length > 0; ) {
      progress = false;
      for (let i = 0; i < order.waiting.length; i++) {
        const m = order.waiting[i]!;
        if (!this.ready(order, m)) continue;
        order.waiting.splice(i, 1);
        this.run(order, m);
        progress = true;
        break;
      }
    }
  }

  private run(order: SenderOrder, msg: Message): void {
    if (msg.meta.range !== undefined && !msg.meta.push) {
      if (msg.meta.ts >= order.doneBelow) order.applied.add(msg.meta.ts);
      this.runRange(msg);
      return;
    }
    const agg = this.sync.active;
    if (agg && !msg.meta.push && msg.meta.iter !== undefined) {
      // A pull of iteration t waits for the sums of the iterations before it.
      agg.pull(msg.meta.iter, () => {
        this.runNow(order, msg);
        this.drain(order);
      });
      return;
    }
    this.runNow(order, msg);
  }

  private runNow(order: SenderOrder, msg: Message): void {
    const applied = () => {
      if (msg.meta.ts >= order.doneBelow) order.applied.add(msg.meta.ts);
    };
    let req: KVRequest;
    let result: ReturnType<RequestHandler>;
    let plan: ReturnType<Replication['plan']>;
    const failed = (err: unknown) => {
      applied();
      if (msg.meta.push)
        this.replicas.window.unmark(msg.meta.sender, msg.meta.inc ?? '', msg.meta.ts, msg.meta.part ?? 0);
      this.respondError(msg, err);
    };
    try {
      req = this.toRequest(msg);
      plan = this.replicas.plan(req, msg);
      if (plan.wrongOwner) {
        failed(plan.wrongOwner);
        return;
      }
      const refused = req.push ? this.sync.refusal(msg) : undefined;
      if (refused) throw refused;
      if (req.push && this.sync.active && plan.apply !== null) {
        this.syncPush(msg, req, plan, applied, failed);
        return;
      }
      result = this.apply(req, plan.apply);
    } catch (err) {
      failed(err);
      return;
    }
    const finish = (r: KVPairs | undefined) => {
      applied();
      if (req.push && plan.apply !== null && this.feed.active) this.feed.applied((plan.apply ?? req.kv).keys);
      if (!req.push) {
        this.respond(msg, r);
        return;
      }
      // The push's pooled frame goes back once applied where nothing keeps a view (push-frame-release.ts).
      const frame = releasablePushFrame(msg, req, plan, this.handler, this.sync.active !== undefined);
      const forwards = frame && forwardsOf(this.replicas);
      this.replicas.applied(req, plan, msg.meta, (err) => {
        if (frame && !err && forwards === forwardsOf(this.replicas)) largeBufferPool.release(frame);
        if (err) {
          this.respondError(msg, err);
          return;
        }
        this.replicas.window.mark(
          msg.meta.sender,
          msg.meta.inc ?? '',
          msg.meta.ts,
          msg.meta.part ?? 0,
          'answered',
        );
        this.respond(msg, r);
      });
    };
    if (result instanceof Promise) {
      result.then(
        (r) => {
          finish(r);
          this.drain(order);
        },
        (err: unknown) => {
          failed(err);
          this.drain(order);
        },
      );
    } else finish(result);
  }

  /** A push in sync mode: summed into its iteration, answered once the sum is applied and replicated. */
  private syncPush(
    msg: Message,
    req: KVRequest,
    plan: ReturnType<Replication['plan']>,
    applied: () => void,
    failed: (err: unknown) => void,
  ): void {
    const { meta } = msg;
    const kv = plan.apply ?? req.kv;
    this.sync.push(msg, req, kv, (err) => {
      const answer = () => {
        if (err) {
          failed(err);
          return;
        }
        applied();
        if (this.feed.active) this.feed.applied(kv.keys);
        this.replicas.window.mark(meta.sender, meta.inc ?? '', meta.ts, meta.part ?? 0, 'answered');
        this.respond(msg, undefined);
      };
      if (plan.waits && plan.waits.length > 0) void Promise.all(plan.waits).then(answer);
      else answer();
      this.drain(this.orderOf(meta.sender));
    });
  }

  /**
   * Runs the handler on a request, or on the part of a resent push not applied before (then the
   * pull part, if any, reads every key).
   */
  private apply(req: KVRequest, part: KVPairs | null | undefined): ReturnType<RequestHandler> {
    if (part === undefined || !req.push) return this.handler(req);
    // A resent push partly or wholly applied before.
    if (part !== null) this.handler({ ...req, pull: false, keysTag: undefined, kv: part });
    if (!req.pull) return undefined;
    return this.handler({ ...req, push: false, kv: { keys: req.kv.keys, vals: EMPTY_VALS } });
  }

  private checkKeysOf(sender: NodeId, hint: LocalHint | undefined): (keys: BigUint64Array) => void {
    let v = this.validated.get(sender);
    if (!v) {
      v = new ValidatedKeys();
      this.validated.set(sender, v);
    }
    const memo = v;
    const vouch = hint?.keys;
    return (keys) => {
      // Keys a worker in this thread validated itself (and sent as that very array) are not
      // compared again; from anyone else, by content.
      this.lastTag = vouch ? memo.vouched(keys, vouch.tag, vouch.inc) : memo.validate(keys);
    };
  }

  private toRequest(msg: Message): KVRequest {
    const { meta, data } = msg;
    const [keys, vals, lens] = data as [Segment?, Segment?, Segment?];
    const hint = localHintOf(data);
    if (!(keys instanceof BigUint64Array)) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        'a KV request carries its keys as a uint64 segment first',
      );
    }
    let kv: KVPairs;
    if (meta.push) {
      if (!(vals instanceof Float32Array || vals instanceof Float64Array)) {
        throw new PsError(
          PsErrorCode.DTYPE,
          'a push carries float32 or float64 values as its second segment',
        );
      }
      if (lens !== undefined && !(lens instanceof Int32Array)) {
        throw new PsError(PsErrorCode.MESSAGE_INVALID, 'lens travel as an int32 segment');
      }
      kv = { keys, vals, lens };
      validateKVPairs(kv, this.checkKeysOf(meta.sender, hint));
    } else {
      this.checkKeysOf(meta.sender, hint)(keys);
      kv = { keys, vals: EMPTY_VALS };
    }
    const keysTag = this.lastTag >= 0 ? this.lastTag : undefined;
    const out = meta.pull && hint?.into?.live() ? hint.into.vals : undefined;
    return {
      sender: meta.sender,
      app: meta.app,
      ts: meta.ts,
      push: meta.push,
      pull: meta.pull,
      kv,
      keysTag,
      out,
      answerReturns: meta.pull && this.node.segmentsFreeOnceSent(meta.app),
    };
  }

  private respond(msg: Message, result: KVPairs | undefined): void {
    const { meta } = msg;
    const data: Segment[] = [];
    try {
      if (meta.pull) {
        if (!result) {
          throw new PsError(
            PsErrorCode.HANDLER,
            `the handler returned nothing for a pull (app ${meta.app}); return the values`,
          );
        }
        const keys = msg.data[0] as BigUint64Array;
        dtypeOf(result.vals);
        if (result.lens) validateLens(result.lens, keys.length, result.vals.length);
        else if (keys.length > 0 && result.vals.length % keys.length !== 0) {
          throw new PsError(
            PsErrorCode.VALS_LENGTH,
            `the handler answered ${keys.length} keys with ${result.vals.length} values; return a multiple, or lens`,
          );
        }
        // Keys are not sent back: the worker knows what it asked for.
        data.push(result.vals);
        if (result.lens) data.push(result.lens);
      }
    } catch (err) {
      this.respondError(msg, err);
      return;
    }
    // A pooled answer of the table handler goes back to the pool once written (owned-answer.ts).
    // The handler took one only when the request said its memory comes back (`answerReturns`).
    const pooled = result ? claimAnswerBuffer(result.vals) : undefined;
    void this.node
      .send(
        meta.sender,
        {
          app: meta.app,
          ts: meta.ts,
          request: false,
          push: meta.push,
          pull: meta.pull,
          ...(meta.part !== undefined ? { part: meta.part } : {}),
        },
        data,
        msg.data[0] instanceof BigUint64Array ? msg.data[0] : undefined,
      )
      .then(() => pooled && largeBufferPool.release(pooled))
      .catch((err: unknown) => {
        // The answer could not go out. Too large a frame: tell the worker instead of leaving its
        // wait() pending. A lost connection: the worker resends and gets this answer again (the
        // push is not applied twice), so an error here would wrongly fail an applied push.
        this.node.log.debug(`could not answer ${meta.sender} ts ${meta.ts}: ${(err as Error).message}`);
        if (err instanceof PsError && err.code === PsErrorCode.FRAME_TOO_LARGE) this.respondError(msg, err);
      });
  }

  /** Answers a range pull (see `serveRange`): the stored keys of its ranges, from the handler's table. */
  private runRange(msg: Message): void {
    const { meta } = msg;
    let reply: ReturnType<typeof serveRange>;
    try {
      reply = serveRange(
        msg,
        this.handler,
        this.node.currentView?.ring,
        this.node.id,
        this.node.maxFrameBytes,
      );
    } catch (err) {
      this.respondError(msg, err);
      return;
    }
    const head = { app: meta.app, ts: meta.ts, request: false, push: false, pull: true, range: reply.range };
    void this.node
      .send(meta.sender, meta.part !== undefined ? { ...head, part: meta.part } : head, reply.data)
      .catch((err: unknown) => {
        if (!(err instanceof PsError && err.code === PsErrorCode.FRAME_TOO_LARGE)) return; // the worker resends
        this.respondError(
          msg,
          new PsError(
            PsErrorCode.RANGE_TOO_LARGE,
            `the range pull's answer does not fit a frame (${err.message}); pull with a smaller limit or maxBytes`,
          ),
        );
      });
  }

  private respondError(msg: Message, err: unknown): void {
    this.counters.errors++;
    const { meta } = msg;
    const e =
      err instanceof PsError
        ? err
        : new PsError(
            PsErrorCode.HANDLER,
            `handler for app ${meta.app} threw: ${(err as Error)?.message ?? String(err)}`,
          );
    if (e.code !== PsErrorCode.WRONG_OWNER) {
      this.node.log.warn(`request ts ${meta.ts} from ${meta.sender} failed: ${e.message}`);
    }
    void this.node
      .send(
        meta.sender,
        {
          app: meta.app,
          ts: meta.ts,
          request: false,
          push: meta.push,
          pull: meta.pull,
          error: e.toWire(),
          ...(meta.part !== undefined ? { part: meta.part } : {}),
          ...(e.code === PsErrorCode.WRONG_OWNER ? { ring: this.replicas.ringVersion } : {}),
        },
        [],
      )
      .catch(() => undefined);
  }
}

export type { ValArray };
