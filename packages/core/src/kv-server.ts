import type { Subscription } from 'rxjs';
import type { ClusterView } from './cluster-view.js';
import { PsError, PsErrorCode } from './errors.js';
import { Replication } from './internal/replication.js';
import { ValidatedKeys } from './internal/validated-keys.js';
import { dtypeOf, type KVPairs, type ValArray, validateKVPairs, validateLens } from './kv-pairs.js';
import type { KVTable } from './kv-table.js';
import type { Message, NodeId, Segment } from './message.js';
import type { PsNode } from './ps-node.js';
import type { TableHandler } from './table-handler.js';

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
   * is an empty Float32Array and `lens` is undefined.
   */
  kv: KVPairs;
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
 * With replicas (the view's `replicas` k > 0, section 4.3), a push is applied, forwarded to the
 * next k servers on the ring of each range it touches, and acknowledged to the worker only once
 * they hold it; a request for keys this server does not own on its ring is answered
 * `PS_ERR_WRONG_OWNER`, and resent pushes already applied (by range vector clock) are dropped.
 * Replication needs a table-backed handler (the built-ins) to copy ranges to new replicas.
 */
export class KVServer {
  readonly app: number;
  /** Requests handled and failed, for logs and tests. */
  readonly counters = { requests: 0, errors: 0 };
  private readonly handler: RequestHandler;
  /** Per sender, the last long key list that passed validation. */
  private readonly validated = new Map<NodeId, ValidatedKeys>();
  private lastTag = -1;
  /** Per sender: what has been applied, and requests waiting for their dependencies. */
  private readonly order = new Map<NodeId, SenderOrder>();
  /** Ring membership, ownership checks, clocks, forwarding and range copies. */
  readonly replicas: Replication;
  private readonly sub: Subscription;

  constructor(
    readonly node: PsNode,
    opts: KVServerOptions,
  ) {
    this.app = opts.app ?? 0;
    this.handler = opts.handler;
    this.replicas = new Replication(node, this.app, this.handler, (msg) => this.admit(msg));
    node.attach(this.app, 'server', (msg) => this.replicas.onRequest(msg));
    node.attachReplica(this.app, this.replicas);
    this.sub = node.cluster$.subscribe((view) => {
      if (view) this.replicas.onView(view as ClusterView);
    });
    node.onTerminate(() => this.sub.unsubscribe());
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

  private admit(msg: Message): void {
    const { meta } = msg;
    this.counters.requests++;
    const order = this.orderOf(meta.sender);
    if (meta.done !== undefined && meta.done > order.doneBelow) {
      order.doneBelow = meta.done;
      for (const ts of order.applied) if (ts < order.doneBelow) order.applied.delete(ts);
    }
    if (this.ready(order, msg)) this.run(order, msg);
    else order.waiting.push(msg);
    this.drain(order);
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
    const applied = () => {
      if (msg.meta.ts >= order.doneBelow) order.applied.add(msg.meta.ts);
    };
    let req: KVRequest;
    let result: ReturnType<RequestHandler>;
    let plan: ReturnType<Replication['plan']>;
    try {
      req = this.toRequest(msg);
      plan = this.replicas.plan(req, msg);
      if (plan.wrongOwner) {
        applied();
        this.respondError(msg, plan.wrongOwner);
        return;
      }
      result = this.apply(req, plan.apply);
    } catch (err) {
      applied();
      this.respondError(msg, err);
      return;
    }
    const finish = (r: KVPairs | undefined) => {
      applied();
      if (!req.push) {
        this.respond(msg, r);
        return;
      }
      this.replicas.applied(req, plan, (err) => {
        if (err) this.respondError(msg, err);
        else this.respond(msg, r);
      });
    };
    if (result instanceof Promise) {
      result.then(
        (r) => {
          finish(r);
          this.drain(order);
        },
        (err: unknown) => {
          applied();
          this.respondError(msg, err);
          this.drain(order);
        },
      );
    } else finish(result);
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

  private checkKeysOf(sender: NodeId): (keys: BigUint64Array) => void {
    let v = this.validated.get(sender);
    if (!v) {
      v = new ValidatedKeys();
      this.validated.set(sender, v);
    }
    const memo = v;
    return (keys) => {
      this.lastTag = memo.validate(keys);
    };
  }

  private toRequest(msg: Message): KVRequest {
    const { meta, data } = msg;
    const [keys, vals, lens] = data as [Segment?, Segment?, Segment?];
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
      validateKVPairs(kv, this.checkKeysOf(meta.sender));
    } else {
      this.checkKeysOf(meta.sender)(keys);
      kv = { keys, vals: EMPTY_VALS };
    }
    const keysTag = this.lastTag >= 0 ? this.lastTag : undefined;
    return { sender: meta.sender, app: meta.app, ts: meta.ts, push: meta.push, pull: meta.pull, kv, keysTag };
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
      .catch((err: unknown) => {
        // The answer could not go out (too large a frame, say): tell the worker instead of
        // leaving its wait() pending. A lost connection cannot carry either; that is logged.
        this.node.log.warn(`could not answer ${meta.sender} ts ${meta.ts}: ${(err as Error).message}`);
        if (err instanceof PsError && err.code !== PsErrorCode.CLOSED) this.respondError(msg, err);
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
