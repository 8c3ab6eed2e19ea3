import { RangeVectorClock } from '../consistency/range-vector-clock.js';
import { PsError, PsErrorCode } from '../errors.js';
import type { TableHandler } from '../handlers/table-handler.js';
import type { KVRequest, RequestHandler } from '../kv-server.js';
import type { ClusterView } from '../membership/cluster-view.js';
import type { Ring } from '../membership/ring.js';
import { ReceiveWindow, type ReceiveWindowLimits, type WindowExport } from '../net/receive-window.js';
import { DEFAULT_RESEND_TIMING, ResendTable, type ResendTiming } from '../net/resend-table.js';
import type { PsNode, RangeMove, ReplicaPort } from '../ps-node.js';
import { gatherKV, valueOffsets } from '../wire/gather.js';
import { KEY_SPACE_END, type KeyRange, lowerBound } from '../wire/key-range.js';
import { type KVPairs, keyWords, validateKVPairs } from '../wire/kv-pairs.js';
import type { Message, NodeId, Segment } from '../wire/message.js';
import { chainCopies, chainSuccessors } from './chain-hops.js';
import { ReplicationStateStream } from './replication-state.js';

/** Keys `[begin, end)` (indices) of a request that fall in range `index` of the ring. */
export interface RangeSlice {
  index: number;
  begin: number;
  end: number;
}

/** What the server does with a request after the ownership and duplicate checks. */
export interface RequestPlan {
  /** Set when this server does not own every key: answer it, apply nothing. */
  wrongOwner?: PsError;
  /**
   * `undefined`: apply the request as it is. `null`: a resent push wholly applied before (apply
   * nothing, answer a pull). Otherwise the part of a resent push not applied before.
   */
  apply?: KVPairs | null;
  /** The ring slices of what is applied (of `apply` when set, else of the request's keys). */
  slices: RangeSlice[];
  /**
   * For a resent push partly or wholly applied before: settle once the replicas hold what was
   * applied before (the answer waits for them, so that acknowledged means replicated).
   */
  waits?: Promise<unknown>[];
}

interface PendingAck {
  waiting: Set<NodeId>;
  error?: PsError;
  done: (err?: PsError) => void;
  /** The forward (or copy) sent to each target, kept for resends until it is acknowledged. */
  sends: Map<NodeId, { meta: Omit<Message['meta'], 'sender' | 'recipient'>; data: Segment[] }>;
  /** A target was declared dead: the answer also waits for the new ring's replica copies. */
  lostTarget?: boolean;
  /** When it was first sent (`performance.now()`), for the replication lag. */
  sentAt: number;
}

/** Who a forward is for, carried down the chain with it. */
interface ForwardOrigin {
  worker: NodeId;
  inc: string;
  ts: number;
  done?: number;
  /** The range's master, which applied the push first. */
  master: NodeId;
  /** For an iteration's sum (sync mode): the worker pushes summed in it, in wire form. */
  contributors?: unknown;
}

/** Options of the replication side of a KVServer. */
export interface ReplicationOptions {
  /** Bounds of the per-sender window of applied pushes (exactly-once). */
  window?: ReceiveWindowLimits;
  /** When unacknowledged forwards and range copies are sent again. */
  resend?: ResendTiming;
}

type WireSegment = [string, string, number];

/** A worker push summed into an aggregate (sync mode): its sender, incarnation and timestamp. */
export interface AggregateContributor {
  sender: NodeId;
  inc: string;
  ts: number;
}

/** Records the worker pushes an aggregate forward names as applied here, with the sum's keys. */
function recordContributors(
  window: ReceiveWindow,
  body: { contributors?: unknown },
  keys: BigUint64Array,
): void {
  const list = body.contributors;
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!Array.isArray(c)) continue;
    const [w, inc, ts] = c as unknown[];
    if (typeof w === 'string' && typeof inc === 'string' && Number.isInteger(ts) && (ts as number) >= 0)
      window.applied(w, inc, ts as number, keys);
  }
}

/** Wire form of key ranges: bounds as decimal strings (msgpack has no 2^64). */
function rangesToWire(ranges: readonly KeyRange[]): [string, string][] {
  return ranges.map((r) => [r.begin.toString(), r.end.toString()]);
}

function rangesFromWire(w: unknown): KeyRange[] {
  if (!Array.isArray(w)) throw new PsError(PsErrorCode.MESSAGE_INVALID, 'ranges must be a list');
  return w.map((r: unknown) => {
    const [b, e] = Array.isArray(r) ? r : [];
    const begin = BigInt(String(b));
    const end = BigInt(String(e));
    if (begin < 0n || end > KEY_SPACE_END || begin >= end) {
      throw new PsError(PsErrorCode.MESSAGE_INVALID, `bad key range [${b}, ${e})`);
    }
    return { begin, end };
  });
}

/**
 * The replication side of a KVServer (OSDI 2014, sections 4.1 to 4.5): ownership checks against
 * the ring, per-worker range vector clocks (a resent push already applied is dropped), chain
 * replication of applied pushes (master, replica 1, ..., tail: each link applies a forward, sends
 * it on to its successor in the range's chain, and acknowledges its predecessor once the tail
 * holds it), forwards to servers taking ranges over, range copies to new replicas (from their
 * predecessor in the chain), and requests held while this server's ring is older than the sender's.
 */
export class Replication implements ReplicaPort {
  private view: ClusterView | undefined;
  /** Largest ring version any message named: a newer ring exists when it exceeds ours. */
  private knownRing = 0;
  /** Messages held until this server's ring catches up, in arrival order. */
  private deferred: Message[] = [];
  /** Per worker: the latest push applied, by key range (Algorithm 2). */
  private readonly clocks = new Map<NodeId, RangeVectorClock>();
  private readonly pending = new Map<number, PendingAck>();
  private seq = 0;
  /**
   * Per worker: the exact keys of every recent push applied here, as master or as replica, and
   * the requests seen: a resent request or forward applies only what was never applied here.
   */
  readonly window: ReceiveWindow;
  /** Forwards and copies not yet acknowledged, keyed `seq:target`: resent until they land. */
  private readonly resends: ResendTable<string>;
  /**
   * Forwards a middle link said it received and is passing down its chain (their final ack waits
   * for the tail): sent again when the link to it comes back, and on the timer only at the
   * longest interval, so that a slow chain does not make every link resend what it holds.
   */
  private readonly relaying: ResendTable<string>;
  /** Settles when the copies to the current ring's new replicas have landed. */
  private rebuilding: Promise<void> = Promise.resolve();
  /** Ranges being handed to other servers (a join or leave): pushes in them are forwarded there too. */
  private readonly moves = new Map<NodeId, { version: number; ranges: KeyRange[] }>();
  private warnedNoTable = false;
  /** Per sending server, the range copies applied here (a copy sent again is not re-imported). */
  private readonly copiesSeen = new Map<NodeId, Set<number>>();
  /**
   * Forwarded pushes and range copies sent and received, for logs and tests: `forwarded` counts
   * forwards sent as a range's master, `relayed` those sent on as a middle link of a chain, and
   * `keysByHop[h]` the keys applied here from forwards at position `h` of their chain (1: sent by
   * the master, 2: relayed by replica 1, ...).
   */
  readonly counters = {
    forwarded: 0,
    relayed: 0,
    replicated: 0,
    copiesSent: 0,
    copiesReceived: 0,
    duplicatesDropped: 0,
    keysByHop: [] as number[],
    /** Segment bytes of forwards and range copies sent to other servers (first sends, not resends). */
    replicaBytes: 0,
  };
  /** The sums this server sent as master (sync mode), numbered under its own incarnation. */
  private aggregateSeq = 0;
  private readonly aggregateInc = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  /** Aggregate numbers forwarded and not yet held by every replica. */
  private readonly aggregatesPending = new Set<number>();
  /** Per range: its chain and the forwards not acknowledged yet, as a throttled stream. */
  readonly state: ReplicationStateStream;

  constructor(
    private readonly node: PsNode,
    private readonly app: number,
    private readonly handler: RequestHandler,
    private readonly admit: (msg: Message) => void,
    opts: ReplicationOptions = {},
  ) {
    this.window = new ReceiveWindow(opts.window);
    this.state = new ReplicationStateStream(node.id);
    const timing = opts.resend ?? DEFAULT_RESEND_TIMING;
    this.resends = new ResendTable<string>(
      timing,
      (key) => this.resendForward(key),
      () => undefined,
    );
    this.relaying = new ResendTable<string>(
      { intervalMs: timing.maxIntervalMs, maxIntervalMs: timing.maxIntervalMs * 4 },
      (key) => this.resendForward(key),
      () => undefined,
    );
  }

  /** The connection to `peer` came back: send it every forward it has not acknowledged. */
  reconnected(peer: NodeId): void {
    this.resends.resendTo(peer);
    this.relaying.resendTo(peer);
  }

  /** Stops resending (the node terminates). */
  close(): void {
    this.resends.close();
    this.relaying.close();
    this.state.close();
  }

  private resendForward(key: string): void {
    const cut = key.indexOf(':');
    const seq = Number(key.slice(0, cut));
    const to = key.slice(cut + 1);
    const f = this.pending.get(seq)?.sends.get(to);
    if (!f) {
      this.resends.delete(key);
      this.relaying.delete(key);
      return;
    }
    this.node.send(to, f.meta, f.data).catch((err: unknown) => {
      this.node.log.debug(`resend of ${f.meta.cmd} ${seq} to ${to} failed: ${(err as Error).message}`);
    });
  }

  /** Sends a forward or copy to `to` and keeps it for resends until `to` acknowledges it. */
  private sendTracked(
    seq: number,
    to: NodeId,
    meta: Omit<Message['meta'], 'sender' | 'recipient'>,
    data: Segment[],
  ): void {
    const p = this.pending.get(seq);
    if (!p) return;
    p.sends.set(to, { meta, data });
    for (const d of data) this.counters.replicaBytes += d.byteLength;
    this.resends.add(`${seq}:${to}`, to, Number.POSITIVE_INFINITY);
    this.node.send(to, meta, data).catch((err: unknown) => {
      // Resent on reconnect or after the resend interval, until it lands or `to` is declared dead.
      this.node.log.debug(`${meta.cmd} ${seq} to ${to} not sent yet: ${(err as Error).message}`);
    });
  }

  /**
   * Forwards and range copies this server sent that some replica has not acknowledged yet, and
   * how long the oldest of them has waited, in ms (0 when none): the replication lag, for metrics.
   */
  get lag(): { unacknowledged: number; oldestMs: number } {
    // The map holds them in the order they were sent: the first is the oldest.
    for (const p of this.pending.values())
      return { unacknowledged: this.pending.size, oldestMs: performance.now() - p.sentAt };
    return { unacknowledged: 0, oldestMs: 0 };
  }

  /** Version of this server's ring (0 before it has a view). */
  get ringVersion(): number {
    return this.view?.ring.version ?? 0;
  }

  /** The clock of worker `id` (what this server applied from it, by key range), if any. */
  clockOf(id: NodeId): RangeVectorClock | undefined {
    return this.clocks.get(id);
  }

  private theirRing(msg: Message): number {
    if (msg.meta.cmd === undefined) return msg.meta.ring ?? 0;
    const r = (msg.meta.body as { ring?: unknown } | undefined)?.ring;
    return typeof r === 'number' && Number.isInteger(r) ? r : 0;
  }

  private mustDefer(msg: Message): boolean {
    const v = this.view;
    if (!v) return true;
    const theirs = this.theirRing(msg);
    if (theirs > this.knownRing) this.knownRing = theirs;
    if (theirs > v.ring.version) return true;
    // A newer ring exists: stop acting as a master on the old one until it arrives.
    return msg.meta.cmd === undefined && this.knownRing > v.ring.version;
  }

  /** A worker's data request: held while our ring is behind, else admitted. */
  onRequest(msg: Message): void {
    if (this.deferred.length > 0 || this.mustDefer(msg)) {
      this.deferred.push(msg);
      return;
    }
    this.admit(msg);
  }

  onReplicaMessage(msg: Message): void {
    if (msg.meta.cmd === 'replicate-ack') {
      this.onAck(msg);
      return;
    }
    if (this.deferred.length > 0 || this.mustDefer(msg)) {
      this.deferred.push(msg);
      return;
    }
    this.applyReplica(msg);
  }

  private dispatch(msg: Message): void {
    if (msg.meta.cmd === undefined) this.admit(msg);
    else this.applyReplica(msg);
  }

  /** A new cluster view: drop dead targets, end finished moves, rebuild replicas, release held messages. */
  onView(view: ClusterView): void {
    const prev = this.view;
    this.view = view;
    this.state.onView(view);
    const dead = new Set(view.dead);
    for (const [to, mv] of this.moves) {
      if (mv.version <= view.ring.version || dead.has(to)) this.moves.delete(to);
    }
    if (prev && (prev.ring.version !== view.ring.version || prev.replicas !== view.replicas)) {
      this.rebuilding = this.rebuild(prev.ring, prev.replicas, view);
    }
    // A target declared dead will never acknowledge: the new ring's chain decides where the push
    // must be held. What was forwarded to it goes to this server's successor on the new ring
    // (each link applies only keys it never had), and the answer also waits for the copies of
    // this server's ranges to its new successors.
    for (const [seq, p] of this.pending) {
      for (const id of p.waiting) {
        if (!dead.has(id)) continue;
        const sent = p.sends.get(id);
        p.waiting.delete(id);
        p.sends.delete(id);
        this.resends.delete(`${seq}:${id}`);
        this.relaying.delete(`${seq}:${id}`);
        p.lostTarget = true;
        const again = sent ? this.reforward(sent, view) : undefined;
        if (again) {
          p.waiting.add(again.key);
          void again.done.then((err) => this.settle(seq, again.key, err));
        }
      }
      if (p.waiting.size === 0) {
        this.pending.delete(seq);
        this.state.settled(seq);
        const rebuilt = this.rebuilding;
        void rebuilt.then(() => p.done(p.error));
      }
    }
    const held = this.deferred;
    this.deferred = [];
    for (let i = 0; i < held.length; i++) {
      const m = held[i]!;
      if (this.mustDefer(m)) {
        this.deferred = held.slice(i);
        break;
      }
      this.dispatch(m);
    }
  }

  /**
   * Checks that this server owns every key of a request on its ring and, for a resent push,
   * which ranges its clocks say were applied already.
   */
  plan(req: KVRequest, msg: Message): RequestPlan {
    const view = this.view;
    const keys = req.kv.keys;
    if (!view || keys.length === 0) return { slices: [] };
    const ring = view.ring;
    if (ring.size === 0) {
      return { slices: [], wrongOwner: this.wrongOwner(keys[0]!) };
    }
    // A request sliced by an older ring may miss keys this server now owns: the worker resends
    // every slice of an older ring when it gets the newer one.
    if (msg.meta.ring !== undefined && msg.meta.ring < ring.version) {
      return { slices: [], wrongOwner: this.wrongOwner(keys[0]!) };
    }
    const ranges = ring.ranges();
    const slices = ring.sliceByRange(keys);
    for (const s of slices) {
      if (ranges[s.index]!.owner !== this.node.id)
        return { slices: [], wrongOwner: this.wrongOwner(keys[s.begin]!) };
    }
    if (!req.push || !msg.meta.resend) return { slices };
    // Exactly the keys never applied here (as master or as replica of this push) are applied:
    // the window holds the keys of every recent application of this request.
    const cov = this.window.coverage(req.sender, msg.meta.inc ?? '', req.ts, keys);
    this.node.log.debug(
      `resend from ${req.sender} ts ${req.ts}: ${cov?.covered ?? 0} of ${keys.length} keys applied before`,
    );
    if (!cov || cov.covered === 0) return { slices };
    this.counters.duplicatesDropped += cov.covered;
    const waits = [...cov.waits, this.rebuilding];
    if (cov.fresh.length === 0) return { slices: [], apply: null, waits };
    const part = gatherKV(req.kv, cov.fresh, true, req.kv.lens ? valueOffsets(req.kv.lens) : undefined);
    return { slices: ring.sliceByRange(part.keys), apply: part, waits };
  }

  private wrongOwner(key: bigint): PsError {
    return new PsError(
      PsErrorCode.WRONG_OWNER,
      `server ${this.node.id} does not own key ${key} on ring ${this.ringVersion}; the worker re-slices by the newer ring and resends`,
    );
  }

  /**
   * A push was applied here as master: record it in the sender's clock, forward it to the
   * replicas (and servers taking its ranges over), and call `done` once they all hold it.
   */
  applied(
    req: KVRequest,
    plan: RequestPlan,
    meta: Pick<Message['meta'], 'inc' | 'done'>,
    done: (err?: PsError) => void,
  ): void {
    const kv = plan.apply === undefined ? req.kv : plan.apply;
    const view = this.view;
    const inc = meta.inc ?? '';
    const before = plan.waits;
    let reforwarded = false;
    const finish = (err?: PsError) => {
      if (!before || before.length === 0) {
        done(err);
        return;
      }
      void Promise.all(before).then((rs) => {
        const earlier = rs.find((r) => r instanceof PsError) as PsError | undefined;
        if (!err && earlier?.code === PsErrorCode.WRONG_OWNER && !reforwarded) {
          // What this server applied before was refused by a replica that had a newer ring: the
          // push is applied here but not replicated. Forward it again on this server's ring (it
          // owns the keys: the request was admitted); replicas apply only keys they never had.
          reforwarded = true;
          const v = this.view;
          const again = v ? this.forward(req, req.kv, v.ring.sliceByRange(req.kv.keys), meta, v) : undefined;
          if (again) void again.then((e) => done(e));
          else done();
          return;
        }
        done(err ?? earlier);
      });
    };
    if (kv === null || !view || plan.slices.length === 0) {
      finish();
      return;
    }
    const { keys } = kv;
    let clock = this.clocks.get(req.sender);
    if (!clock) {
      clock = new RangeVectorClock(-1);
      this.clocks.set(req.sender, clock);
    }
    // The clock records, per ring range a push touched, the latest push applied in it (the
    // paper's range vector clock); it is never used to judge duplicates (the window is).
    const owned = view.ring.ranges();
    for (const s of plan.slices) clock.advance(owned[s.index]!, req.ts);

    const replicated = this.forward(req, kv, plan.slices, meta, view);
    this.window.applied(req.sender, inc, req.ts, keys, replicated);
    if (replicated) void replicated.then(finish);
    else finish();
  }

  /**
   * Forwards the applied `kv` (cut by `slices` of `view`'s ring) down each range's chain (to the
   * master's successor, which applies it and forwards it to its own, up to the tail) and to
   * servers taking its ranges over; resolves once every replica of the slices holds it (each link
   * acknowledges once its successors did, or were declared dead and the next ring's chain took
   * it), with the first refusal. Undefined when there is nobody to forward to.
   */
  private forward(
    req: KVRequest,
    kv: KVPairs,
    slices: readonly RangeSlice[],
    meta: Pick<Message['meta'], 'inc' | 'done'>,
    view: ClusterView,
  ): Promise<PsError | undefined> | undefined {
    const origin: ForwardOrigin = {
      worker: req.sender,
      inc: meta.inc ?? '',
      ts: req.ts,
      master: this.node.id,
      ...(meta.done !== undefined ? { done: meta.done } : {}),
      ...(req.contributors ? { contributors: req.contributors } : {}),
    };
    return this.forwardOn(origin, kv, slices, view);
  }

  /** Sends `kv` to the next link of each slice's chain (and, at the master, to range moves). */
  private forwardOn(
    origin: ForwardOrigin,
    kv: KVPairs,
    slices: readonly RangeSlice[],
    view: ClusterView,
  ): Promise<PsError | undefined> | undefined {
    const master = origin.master === this.node.id;
    const targets = this.targetsOf(view, kv, slices, master);
    if (targets.size === 0) return undefined;
    const { keys } = kv;
    const seq = ++this.seq;
    const replicated = new Promise<PsError | undefined>((resolve) => {
      this.pending.set(seq, {
        waiting: new Set(targets.keys()),
        done: resolve,
        sends: new Map(),
        sentAt: performance.now(),
      });
    });
    this.state.sent(seq, view, slices);
    const offsets = kv.lens ? valueOffsets(kv.lens) : undefined;
    for (const [to, iv] of targets) {
      const part = gatherKV(kv, iv, true, offsets);
      const spans = new BigUint64Array(iv.length);
      for (let i = 0; i < iv.length; i += 2) {
        spans[i] = keys[iv[i]!]!;
        spans[i + 1] = keys[iv[i + 1]! - 1]!;
      }
      const data: Segment[] = [part.keys, part.vals, spans];
      if (part.lens) data.push(part.lens);
      if (master) this.counters.forwarded++;
      else this.counters.relayed++;
      this.sendTracked(
        seq,
        to,
        {
          app: this.app,
          ts: origin.ts,
          request: true,
          push: true,
          pull: false,
          cmd: 'replicate',
          body: {
            worker: origin.worker,
            inc: origin.inc,
            ring: view.ring.version,
            seq,
            master: origin.master,
            ...(origin.done !== undefined ? { done: origin.done } : {}),
            ...(origin.contributors !== undefined ? { contributors: origin.contributors } : {}),
          },
        },
        data,
      );
    }
    return replicated;
  }

  /**
   * Replication after aggregation (section 4.3, sync mode): forwards a sum this server applied as
   * master (an iteration's aggregate) to the replicas of the ranges it touches, once, through the
   * same forward and acknowledgement path as a worker's push, under this server's own id,
   * incarnation and aggregate number. `contributors` are the worker pushes summed in it (sender,
   * incarnation, timestamp): each replica records them as applied with the sum's keys, so that a
   * worker resending one to the replica after it took over is not applied twice. Resolves once
   * every replica holds the sum (at once when there is none), with the first refusal.
   */
  forwardAggregate(kv: KVPairs, contributors: readonly AggregateContributor[]): Promise<PsError | undefined> {
    const view = this.view;
    if (!view || kv.keys.length === 0 || view.ring.size === 0) return Promise.resolve(undefined);
    const seq = ++this.aggregateSeq;
    const req: KVRequest = {
      sender: this.node.id,
      app: this.app,
      ts: seq,
      push: true,
      pull: false,
      kv,
      contributors: contributors.map((c) => [c.sender, c.inc, c.ts]),
    };
    // Replicas may forget the aggregates below the oldest one still unacknowledged.
    let done = seq;
    for (const p of this.aggregatesPending) if (p < done) done = p;
    const meta = { inc: this.aggregateInc, done };
    const replicated = this.forward(req, kv, view.ring.sliceByRange(kv.keys), meta, view);
    if (!replicated) return Promise.resolve(undefined);
    this.aggregatesPending.add(seq);
    return replicated.then((err) => {
      this.aggregatesPending.delete(seq);
      return err;
    });
  }

  /**
   * Per target server, the index intervals of `kv` it must get from this server (each within one
   * ring slice): the next link of each slice's chain, and, at the master, servers taking a range over.
   */
  private targetsOf(
    view: ClusterView,
    kv: KVPairs,
    slices: readonly RangeSlice[],
    master: boolean,
  ): Map<NodeId, number[]> {
    const out = new Map<NodeId, number[]>();
    const dead = view.dead;
    const add = (to: NodeId, b: number, e: number) => {
      if (b >= e || to === this.node.id || dead.includes(to)) return;
      let list = out.get(to);
      if (!list) {
        list = [];
        out.set(to, list);
      }
      list.push(b, e);
    };
    chainSuccessors(view, this.node.id, slices, add);
    if (!master || this.moves.size === 0) return out;
    const chains = view.ring.chains(view.replicas);
    const ranges = view.ring.ranges();
    const words = keyWords(kv.keys);
    for (const s of slices) {
      const chain = chains[s.index]!;
      const r = ranges[s.index]!;
      for (const [to, mv] of this.moves) {
        if (chain.includes(to)) continue;
        for (const m of mv.ranges) {
          if (m.end <= r.begin || m.begin >= r.end) continue;
          const b = Math.max(s.begin, lowerBound(kv.keys, m.begin, words));
          const e = Math.min(s.end, lowerBound(kv.keys, m.end, words));
          add(to, b, e);
        }
      }
    }
    return out;
  }

  /**
   * A forward whose target was declared dead, sent again on `view`'s ring: to this server's
   * successor in the chain of each of its keys' ranges. `key` names it among the pending
   * acknowledgements; undefined for a range copy, or when this server ends every chain now.
   */
  private reforward(
    sent: { meta: Omit<Message['meta'], 'sender' | 'recipient'>; data: Segment[] },
    view: ClusterView,
  ): { key: string; done: Promise<PsError | undefined> } | undefined {
    if (sent.meta.cmd !== 'replicate' || view.ring.size === 0) return undefined;
    const body = sent.meta.body as {
      worker: NodeId;
      inc: string;
      master: NodeId;
      done?: number;
      contributors?: unknown;
    };
    const [keys, vals, , lens] = sent.data as [BigUint64Array, KVPairs['vals'], Segment, Int32Array?];
    const kv: KVPairs = lens ? { keys, vals, lens } : { keys, vals };
    const origin: ForwardOrigin = {
      worker: body.worker,
      inc: body.inc,
      ts: sent.meta.ts,
      master: body.master,
      ...(body.done !== undefined ? { done: body.done } : {}),
      ...(body.contributors !== undefined ? { contributors: body.contributors } : {}),
    };
    const done = this.forwardOn(origin, kv, view.ring.sliceByRange(keys), view);
    if (!done) return undefined;
    this.node.log.debug(
      `forward of ${body.worker} ts ${sent.meta.ts} sent again on ring ${view.ring.version}`,
    );
    return { key: `again:${++this.seq}`, done };
  }

  private settle(seq: number, from: NodeId, error?: PsError): void {
    const p = this.pending.get(seq);
    if (!p?.waiting.delete(from)) return;
    p.sends.delete(from);
    this.resends.delete(`${seq}:${from}`);
    this.relaying.delete(`${seq}:${from}`);
    if (error && !p.error) p.error = error;
    if (p.waiting.size === 0) {
      this.pending.delete(seq);
      this.state.settled(seq);
      if (p.lostTarget) void this.rebuilding.then(() => p.done(p.error));
      else p.done(p.error);
    }
  }

  private onAck(msg: Message): void {
    const { seq, error, received } = (msg.meta.body ?? {}) as {
      seq?: number;
      error?: unknown;
      received?: unknown;
    };
    if (typeof seq !== 'number') return;
    if (received === true) {
      // A middle link holds the forward and passes it on: no timed resend while the chain works.
      const key = `${seq}:${msg.meta.sender}`;
      if (this.resends.has(key)) {
        this.resends.delete(key);
        this.relaying.add(key, msg.meta.sender, Number.POSITIVE_INFINITY);
      }
      return;
    }
    this.settle(seq, msg.meta.sender, error ? PsError.fromWire(error) : undefined);
  }

  /** Answers a forward or copy; `received`: only that it arrived (the final ack follows). */
  private ack(msg: Message, error?: PsError, received = false): void {
    const seq = (msg.meta.body as { seq?: number } | undefined)?.seq;
    if (error) this.node.log.warn(`${msg.meta.cmd} from ${msg.meta.sender} refused: ${error.message}`);
    void this.node
      .send(
        msg.meta.sender,
        {
          app: this.app,
          ts: msg.meta.ts,
          request: false,
          push: false,
          pull: false,
          cmd: 'replicate-ack',
          body: {
            seq,
            ring: this.ringVersion,
            ...(error ? { error: error.toWire() } : {}),
            ...(received ? { received: true } : {}),
          },
        },
        [],
      )
      .catch(() => undefined);
  }

  /**
   * A forward or copy from an older ring is taken only when the master it comes from (`owner`:
   * the sender of a copy, the chain's head for a forward) still owns those keys on ours (a master
   * whose ranges did not move); else that master must tell its worker to resend.
   */
  private staleSender(
    msg: Message,
    ranges: readonly KeyRange[],
    owner: NodeId = msg.meta.sender,
  ): PsError | undefined {
    const view = this.view!;
    if (this.theirRing(msg) >= view.ring.version) return undefined;
    for (const r of ranges) {
      if (view.ring.size === 0 || view.ring.ownerOf(r.begin) !== owner) {
        return new PsError(
          PsErrorCode.WRONG_OWNER,
          `${owner} no longer owns [${r.begin}, ${r.end}) on ring ${view.ring.version}`,
        );
      }
    }
    return undefined;
  }

  private applyReplica(msg: Message): void {
    try {
      if (msg.meta.cmd === 'replicate') this.applyForward(msg);
      else if (msg.meta.cmd === 'range-copy') this.applyCopy(msg);
    } catch (err) {
      this.ack(
        msg,
        err instanceof PsError ? err : new PsError(PsErrorCode.REPLICATION, (err as Error).message),
      );
    }
  }

  private applyForward(msg: Message): void {
    const body = (msg.meta.body ?? {}) as {
      worker?: unknown;
      inc?: unknown;
      done?: unknown;
      master?: unknown;
      contributors?: unknown;
    };
    const { worker } = body;
    // A forward from a server older than chains names no master: its sender is the master.
    const master = typeof body.master === 'string' ? body.master : msg.meta.sender;
    const inc = typeof body.inc === 'string' ? body.inc : '';
    const [keys, vals, spans, lens] = msg.data as [Segment?, Segment?, Segment?, Segment?];
    if (
      typeof worker !== 'string' ||
      !(keys instanceof BigUint64Array) ||
      !(vals instanceof Float32Array || vals instanceof Float64Array) ||
      !(spans instanceof BigUint64Array) ||
      spans.length % 2 !== 0 ||
      (lens !== undefined && !(lens instanceof Int32Array))
    ) {
      throw new PsError(
        PsErrorCode.MESSAGE_INVALID,
        'a replicate message carries keys, values, spans and lens',
      );
    }
    const kv: KVPairs = { keys, vals, lens };
    validateKVPairs(kv);
    const ranges: KeyRange[] = [];
    for (let i = 0; i < spans.length; i += 2) {
      if (spans[i]! > spans[i + 1]!)
        throw new PsError(PsErrorCode.MESSAGE_INVALID, 'a span ends before it begins');
      ranges.push({ begin: spans[i]!, end: spans[i + 1]! + 1n });
    }
    const stale = this.staleSender(msg, ranges, master);
    if (stale) {
      this.ack(msg, stale);
      return;
    }
    const ts = msg.meta.ts;
    if (typeof body.done === 'number' && Number.isInteger(body.done))
      this.window.done(worker, inc, body.done);
    if (this.window.state(worker, inc, ts, 0, false) === 'stale') {
      this.ack(msg); // the worker finished that push: nobody waits for it
      return;
    }
    // Exactly once per (worker, ts): a forward sent again (its ack was lost), or keys this server
    // holds already from another copy of the push, are not applied twice. A copy sent again is
    // still passed on whole down this server's chain on its ring (each link applies only what it
    // never had) and acknowledged on what that attempt gets, not on how an earlier one ended: an
    // earlier attempt may have been refused by a link on a newer ring, which this one is not.
    const cov = this.window.coverage(worker, inc, ts, keys);
    const again = cov !== undefined && cov.covered > 0;
    let apply: KVPairs | undefined = kv;
    if (again) {
      this.counters.duplicatesDropped += cov.covered;
      apply =
        cov.fresh.length === 0
          ? undefined
          : gatherKV(kv, cov.fresh, true, lens ? valueOffsets(lens) : undefined);
    }
    const origin: ForwardOrigin = {
      worker,
      inc,
      ts,
      master,
      ...(typeof body.done === 'number' ? { done: body.done } : {}),
      ...(body.contributors !== undefined ? { contributors: body.contributors } : {}),
    };
    const finish = () => {
      const view = this.view!;
      let downstream: Promise<PsError | undefined> | undefined;
      if (view.ring.size > 0) {
        if (apply) this.recordApplied(worker, ts, apply, view);
        // The next link of the chain: apply, then forward, then acknowledge once it holds it.
        const onward = again ? kv : apply!;
        downstream = this.forwardOn(origin, onward, view.ring.sliceByRange(onward.keys), view);
      }
      if (apply) {
        this.window.applied(worker, inc, ts, apply.keys, downstream);
        recordContributors(this.window, body, apply.keys);
        this.counters.replicated++;
      }
      // What was applied before is acknowledged once this server's copies to new successors landed.
      const all: Promise<unknown>[] = [
        ...(again ? [this.rebuilding] : []),
        ...(downstream ? [downstream] : []),
      ];
      if (all.length === 0) {
        this.ack(msg);
        return;
      }
      this.ack(msg, undefined, true);
      void Promise.all(all).then((rs) =>
        this.ack(msg, rs.find((r) => r instanceof PsError) as PsError | undefined),
      );
    };
    if (!apply) {
      finish();
      return;
    }
    const r = this.handler({
      sender: msg.meta.sender,
      app: this.app,
      ts,
      push: true,
      pull: false,
      kv: apply,
    });
    if (r instanceof Promise) {
      r.then(finish, (err: unknown) =>
        this.ack(msg, new PsError(PsErrorCode.REPLICATION, `the handler failed: ${(err as Error).message}`)),
      );
    } else finish();
  }

  /** A forward's keys applied here: the worker's clock, and the keys by this server's chain position. */
  private recordApplied(worker: NodeId, ts: number, apply: KVPairs, view: ClusterView): void {
    let clock = this.clocks.get(worker);
    if (!clock) {
      clock = new RangeVectorClock(-1);
      this.clocks.set(worker, clock);
    }
    const owned = view.ring.ranges();
    const chains = view.ring.chains(view.replicas);
    const byHop = this.counters.keysByHop;
    for (const sl of view.ring.sliceByRange(apply.keys)) {
      clock.advance(owned[sl.index]!, ts);
      const hop = chains[sl.index]!.indexOf(this.node.id);
      if (hop <= 0) continue;
      while (byHop.length <= hop) byHop.push(0);
      byHop[hop]! += sl.end - sl.begin;
    }
  }

  private tableOf(): TableHandler['table'] | undefined {
    return (this.handler as Partial<TableHandler>).table;
  }

  private applyCopy(msg: Message): void {
    const table = this.tableOf();
    if (!table) {
      throw new PsError(
        PsErrorCode.REPLICATION,
        `app ${this.app} on ${this.node.id} has no table to copy ranges into; use a built-in handler`,
      );
    }
    const body = (msg.meta.body ?? {}) as {
      ranges?: unknown;
      clocks?: Record<string, WireSegment[]>;
      slabs?: unknown;
      window?: unknown;
    };
    const ranges = rangesFromWire(body.ranges);
    const stale = this.staleSender(msg, ranges);
    if (stale) {
      this.ack(msg, stale);
      return;
    }
    // A copy sent again (its ack was lost) must not roll back the pushes forwarded since.
    const copySeq = (msg.meta.body as { seq?: unknown }).seq;
    let seen = this.copiesSeen.get(msg.meta.sender);
    if (!seen) {
      seen = new Set();
      this.copiesSeen.set(msg.meta.sender, seen);
    }
    if (typeof copySeq === 'number' && seen.has(copySeq)) {
      this.ack(msg);
      return;
    }
    const [keys, lens, ...rest] = msg.data;
    if (!(keys instanceof BigUint64Array) || !(lens instanceof Int32Array)) {
      throw new PsError(PsErrorCode.MESSAGE_INVALID, 'a range copy carries keys, lens and value slabs');
    }
    const nslabs = typeof body.slabs === 'number' ? body.slabs : rest.length;
    const slabs = rest.slice(0, nslabs);
    const windowKeys = rest.slice(nslabs);
    const windowHeads = Array.isArray(body.window) ? (body.window as unknown[]) : [];
    const records: WindowExport = [];
    windowHeads.forEach((h, i) => {
      const k = windowKeys[i];
      if (!Array.isArray(h) || !(k instanceof BigUint64Array)) return;
      const [origin, inc, ts] = h as [unknown, unknown, unknown];
      if (typeof origin !== 'string' || typeof inc !== 'string' || !Number.isInteger(ts)) return;
      records.push({ origin, inc, ts: ts as number, keys: k });
    });
    table.importRanges(ranges, {
      keys,
      lens,
      slabs: slabs as KVPairs['vals'][],
      dtype: table.dtype,
      states: slabs.length,
    });
    const clocks = body.clocks ?? {};
    for (const [worker, segs] of Object.entries(clocks)) {
      if (!Array.isArray(segs)) continue;
      let clock = this.clocks.get(worker);
      if (!clock) {
        clock = new RangeVectorClock(-1);
        this.clocks.set(worker, clock);
      }
      for (const r of ranges) clock.set(r, -1);
      for (const [b, e, t] of segs) {
        const begin = BigInt(b);
        const end = BigInt(e);
        for (const r of ranges) {
          const lo = begin > r.begin ? begin : r.begin;
          const hi = end < r.end ? end : r.end;
          if (lo < hi && Number.isFinite(t)) clock.set({ begin: lo, end: hi }, t);
        }
      }
    }
    // The copy's values include the pushes applied at the sender: so does our window, so that a
    // worker's resend of one of them is not applied twice here.
    this.window.import(records);
    if (typeof copySeq === 'number') {
      seen.add(copySeq);
      if (seen.size > 1024) seen.delete(seen.values().next().value as number);
    }
    this.counters.copiesReceived++;
    this.ack(msg);
  }

  /**
   * Sends the current content of `ranges` (table entries and clocks) to `to`; resolves once `to`
   * holds it. Pushes applied after this call reach `to` after the copy (same connection, in order).
   */
  copyTo(to: NodeId, ranges: KeyRange[]): Promise<void> {
    const table = this.tableOf();
    const view = this.view;
    if (!table || !view) {
      if (!this.warnedNoTable) {
        this.warnedNoTable = true;
        this.node.log.warn(
          `app ${this.app}: the handler has no table, so ranges cannot be copied to new replicas or servers`,
        );
      }
      return Promise.reject(new PsError(PsErrorCode.REPLICATION, `app ${this.app} has no table to copy`));
    }
    const data = table.exportRanges(ranges);
    const clocks: Record<string, WireSegment[]> = {};
    for (const [worker, clock] of this.clocks) {
      const segs: WireSegment[] = [];
      for (const seg of clock.segments()) {
        if (seg.time < 0) continue;
        if (ranges.some((r) => seg.begin < r.end && seg.end > r.begin)) {
          segs.push([seg.begin.toString(), seg.end.toString(), seg.time]);
        }
      }
      if (segs.length > 0) clocks[worker] = segs;
    }
    const records = this.window.export(ranges);
    const seq = ++this.seq;
    this.counters.copiesSent++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(seq, {
        waiting: new Set([to]),
        done: (err) => (err ? reject(err) : resolve()),
        sends: new Map(),
        sentAt: performance.now(),
      });
      this.sendTracked(
        seq,
        to,
        {
          app: this.app,
          ts: 0,
          request: true,
          push: false,
          pull: false,
          cmd: 'range-copy',
          body: {
            ring: view.ring.version,
            seq,
            ranges: rangesToWire(ranges),
            clocks,
            slabs: data.slabs.length,
            window: records.map((r) => [r.origin, r.inc, r.ts]),
          },
        },
        [data.keys, data.lens, ...data.slabs, ...records.map((r) => r.keys)],
      );
    });
  }

  /** The scheduler's order (a join or leave): pre-copy the ranges, then forward the delta until the flip. */
  async migrate(ring: Ring, moves: RangeMove[]): Promise<void> {
    for (const mv of moves) this.moves.set(mv.to, { version: ring.version, ranges: mv.ranges });
    const started = Date.now();
    await Promise.all(moves.map((mv) => this.copyTo(mv.to, mv.ranges)));
    this.node.log.info(
      `app ${this.app}: copied ${moves.reduce((n, m) => n + m.ranges.length, 0)} ranges to ${moves.map((m) => m.to).join(', ')} in ${Date.now() - started} ms`,
    );
  }

  /**
   * The ring or the replica count changed: copy each range whose chain holds this server to its
   * successor there, when that successor may not hold it (see {@link chainCopies}).
   */
  private rebuild(oldRing: Ring, oldK: number, view: ClusterView): Promise<void> {
    const copies = chainCopies(oldRing, oldK, view, this.node.id);
    const done: Promise<void>[] = [];
    for (const [to, ranges] of copies) {
      const started = Date.now();
      done.push(
        this.copyTo(to, ranges).then(
          () =>
            this.node.log.info(
              `app ${this.app}: replica ${to} rebuilt (${ranges.length} ranges) in ${Date.now() - started} ms`,
            ),
          (err: unknown) =>
            this.node.log.warn(`app ${this.app}: rebuilding replica ${to} failed: ${(err as Error).message}`),
        ),
      );
    }
    return Promise.all(done).then(() => undefined);
  }
}
