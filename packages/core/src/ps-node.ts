import { BehaviorSubject, filter, type Observable, type Subscription } from 'rxjs';
import { TaskRunner } from './consistency/task-runner.js';
import { WorkerProgress } from './consistency/worker-progress.js';
import { PsError, PsErrorCode } from './errors.js';
import { consoleLogger, type Logger, logLevelFromEnv } from './internal/logger.js';
import { type ClusterFill, clusterDidNotFill, fillFromWire } from './membership/cluster-fill.js';
import {
  type ClusterView,
  viewFromWire,
  viewToWire,
  type WireClusterView,
} from './membership/cluster-view.js';
import type { WireResumeState } from './membership/resume-state.js';
import { Ring, type WireRing } from './membership/ring.js';
import { ringChanges } from './membership/ring-changes.js';
import type { BarrierGroup } from './membership/scheduler.js';
import { ServerLease } from './membership/server-lease.js';
import { Endpoint, type TrafficStats } from './net/endpoint.js';
import { RoleSecrets } from './net/role-secrets.js';
import type { PeerAddress, Transport, TransportEvent } from './net/transport.js';
import { type AppFilters, chainsSignature, type Filter } from './wire/filter.js';
import { cachesKeyLists, keyListReuse } from './wire/key-list-reuse.js';
import type { KeyRange } from './wire/key-range.js';
import {
  type Message,
  type Meta,
  type NodeAddress,
  type NodeId,
  REPLICA_COMMANDS,
  SCHEDULER_COMMANDS,
  SCHEDULER_ID,
  type Segment,
} from './wire/message.js';

/** Options of {@link PsNode.create}. */
export interface NodeOptions {
  role: 'server' | 'worker';
  transport: Transport;
  /** The scheduler's address. */
  scheduler: PeerAddress;
  /** Host this node listens on and announces (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Listen for connections (default: true for servers, false for workers, which only connect out). */
  listen?: boolean;
  /** This node's id (default `<role>-<random hex>`). */
  id?: NodeId;
  /** Interval between heartbeats to the scheduler, in ms. Default 500. */
  heartbeatIntervalMs?: number;
  /**
   * A scheduler silent for this long (ms) is taken as lost. Default 10,000. The node keeps
   * serving (a server within its lease) and redials the scheduler's address for
   * `schedulerReconnectMs` more; it registers again with its state on every reconnection.
   */
  heartbeatTimeoutMs?: number;
  /**
   * How long a node keeps trying to reach a lost scheduler, in ms, past `heartbeatTimeoutMs`:
   * a scheduler restarted at the same address within it (with `recover`) takes the node back.
   * Then the node stops with `PS_ERR_NODE_DEAD`. Default 30,000; 0 stops at `heartbeatTimeoutMs`.
   */
  schedulerReconnectMs?: number;
  /** How long `start()` waits for the whole cluster to register, in ms. Default 120,000. */
  startTimeoutMs?: number;
  logger?: Logger;
  maxFrameBytes?: number;
  /**
   * Bandwidth filters run on every data message this node sends (in list order) and receives
   * (in reverse). Every server and worker of a cluster must list the same filters with the same
   * parameters, in the same order: the scheduler refuses a node whose chain differs
   * (`PS_ERR_FILTER_MISMATCH`).
   */
  filters?: Filter[];
  /**
   * Apps that run their own filter chain instead of `filters` (see {@link AppFilters}): list an
   * app that needs exact values with `[]` (e.g. `{ 1: [] }`), so that lossy filters (quantize,
   * significant-update) never touch it. Part of what the scheduler compares.
   */
  appFilters?: AppFilters;
  /**
   * Key-list reuse ({@link keyListReuse}): a request with the same keys as the previous one of
   * its app to that server sends a reference instead of the keys. Default: on when the transport
   * moves bytes (every kind but `inproc`), and off when `filters` already cache key lists
   * (`@ps/filters`' keyCaching). It is part of the filter chain the scheduler compares, so every
   * node of a cluster needs the same setting.
   */
  keyListReuse?: boolean;
  /**
   * How long a scheduler task whose executor this node has not registered yet
   * (`node.tasks.handle`) waits for it, in ms, before it fails with `PS_ERR_NO_EXECUTOR`.
   * Default 5,000.
   */
  taskGraceMs?: number;
}

/** The default chain of a node: `filters`, behind key-list reuse unless turned off (see NodeOptions). */
function defaultChain(opts: NodeOptions): Filter[] {
  const filters = opts.filters ?? [];
  const reuse = opts.keyListReuse ?? opts.transport.kind !== 'inproc';
  return reuse && !cachesKeyLists(filters) ? [keyListReuse(), ...filters] : filters;
}

/** A customer: the part of a node that serves one app id (a KVServer or a KVWorker). */
export type CustomerHandler = (msg: Message) => void;

/** Ranges a server must hand to another server (part of a scheduler's `migrate` order). */
export interface RangeMove {
  to: NodeId;
  ranges: KeyRange[];
}

/**
 * The replication side of a server's app (a KVServer): takes the messages servers exchange
 * (`replicate`, `replicate-ack`, `range-copy`) and runs the range moves the scheduler orders.
 */
export interface ReplicaPort {
  onReplicaMessage(msg: Message): void;
  /**
   * Copies `moves` to their new servers (pre-copy), keeps forwarding pushes in them until `ring`
   * is published (the delta), and resolves once every copy is held.
   */
  migrate(ring: Ring, moves: RangeMove[]): Promise<void>;
}

/**
 * A server or worker node: its transport and codec, registration with the scheduler, the
 * cluster view, heartbeats, barriers and orderly termination. Data messages are routed by app
 * id to the customers attached with {@link PsNode.attach} (one `KVServer` and/or one `KVWorker`
 * per app id), so one node can serve several tables.
 *
 * Lifecycle: `create` (bind) → attach customers → `start` (register, wait for the cluster) →
 * work → `finalize` (workers) → `terminated`.
 */
export class PsNode {
  /**
   * The views the scheduler published, the latest first to new subscribers; never exposed (and
   * hidden behind `asObservable()`: a Subject piped is still a Subject, with a `next()`).
   */
  private readonly views = new BehaviorSubject<ClusterView | undefined>(undefined);
  /**
   * The cluster views this node receives from the scheduler, read-only: a subscriber gets the
   * current view at once (none before the node joined), then each newer one (membership, ring,
   * replica count, deaths); it completes when the node terminates. The latest one synchronously:
   * {@link PsNode.currentView}.
   */
  readonly cluster$: Observable<ClusterView> = this.views
    .asObservable()
    .pipe(filter((v): v is ClusterView => v !== undefined));
  /**
   * The consistent-hash ring's changes: the current ring at once, then each ring whose version
   * differs from the last one emitted (ownership moved: a server joined, left or died); views
   * that change nothing in the ring are skipped. Completes with `cluster$`.
   */
  readonly ring$: Observable<Ring> = this.cluster$.pipe(ringChanges());
  /** Resolves when the node has terminated (scheduler's order, scheduler lost, or `close()`). */
  readonly terminated: Promise<void>;
  /** Why the node terminated, when it was not an orderly shutdown. */
  terminationError: PsError | undefined;
  /** The executors of scheduler tasks on this node: `node.tasks.handle(name, run)` (see {@link TaskRunner}). */
  readonly tasks: TaskRunner;

  readonly log: Logger;
  private readonly ep: Endpoint;
  private readonly customers = new Map<string, CustomerHandler>();
  private readonly replicaPorts = new Map<number, ReplicaPort>();
  /** Outgoing connections being opened, by peer: sends to that peer wait for them. */
  private readonly connecting = new Map<NodeId, Promise<unknown>>();
  private readonly connected = new Set<NodeId>();
  private readonly requestKeys = new Map<
    number,
    (peer: NodeId, ts: number, part?: number) => BigUint64Array | undefined
  >();
  private readonly barrierWaits = new Map<string, { resolve: () => void; reject: (e: PsError) => void }>();
  private readonly barrierSeq = { servers: 0, workers: 0, all: 0 };
  private readonly subs: Subscription[] = [];
  private readonly terminateHooks: ((err: PsError) => void)[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastFromScheduler = Date.now();
  /** This server's lease (see `leaseValid`); heartbeats are numbered by it on every node. */
  private readonly lease = new ServerLease();
  /** Chosen at registration and sent to the scheduler only: it ties this node's heartbeats to it. */
  private readonly token = globalThis.crypto.randomUUID();
  private started = false;
  /** Set once `start()` connected to the scheduler: control commands count only from then on. */
  private schedulerLinked = false;
  /** Set while this node dials the scheduler again (the transport gave up reconnecting). */
  private redialing = false;
  /** A worker that called `finalize()` (told to a scheduler that registers it again). */
  private finalized = false;
  private closed = false;
  private resolveTerminated!: () => void;
  private startWait: { resolve: (v: ClusterView) => void; reject: (e: PsError) => void } | undefined;
  /** The scheduler's last count of registered nodes while the cluster fills (for the timeout's message). */
  private fill: ClusterFill | undefined;
  /** A worker's progress clock (see `progress`). */
  private readonly workerProgress: WorkerProgress | undefined;

  private constructor(
    readonly id: NodeId,
    readonly role: 'server' | 'worker',
    readonly address: NodeAddress,
    ep: Endpoint,
    private readonly opts: NodeOptions,
    log: Logger,
  ) {
    this.ep = ep;
    this.log = log;
    this.terminated = new Promise((r) => {
      this.resolveTerminated = r;
    });
    this.tasks = new TaskRunner(
      () => this.id,
      (state) => this.sendControl(SCHEDULER_ID, 'task-state', state),
      log,
      opts.taskGraceMs,
    );
    this.subs.push(ep.messages$.subscribe((m) => this.onMessage(m)));
    ep.onFilterError = (msg, err) => this.onUndecodable(msg, err);
    ep.requestKeys = (peer, app, ts, part) => this.requestKeys.get(app)?.(peer, ts, part);
    if (role === 'worker') {
      const progress = new WorkerProgress(id, (t, v, done) => {
        // A report lost with the link is carried by the next registration.
        this.sendControl(SCHEDULER_ID, 'progress', { t, v, ...(done ? { done } : {}) }).catch(
          () => undefined,
        );
      });
      this.onTerminate((err) => progress.close(err));
      this.workerProgress = progress;
    }
  }

  /**
   * This worker's progress clock: report finished iterations and wait for the other workers
   * (the cross-worker bounded delay; see {@link WorkerProgress}).
   * @throws PsError `PS_ERR_PROGRESS` on a server.
   */
  get progress(): WorkerProgress {
    if (!this.workerProgress)
      throw new PsError(
        PsErrorCode.PROGRESS,
        'only a worker has a progress clock; ask node.progress of a worker',
      );
    return this.workerProgress;
  }

  /**
   * Creates the node and binds its transport (a server listens; a worker only records its id).
   * @throws PsError `PS_ERR_BIND` when the port is taken; `PS_ERR_CONFIG` for malformed `appFilters`
   *   or `taskGraceMs`.
   */
  static async create(opts: NodeOptions): Promise<PsNode> {
    const r = opts.schedulerReconnectMs;
    if (r !== undefined && !(r >= 0 && r <= 86_400_000)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `schedulerReconnectMs must be a number of ms from 0 to 86,400,000, got ${r}`,
      );
    }
    if (opts.taskGraceMs !== undefined) TaskRunner.checkGrace(opts.taskGraceMs);
    for (const app of Object.keys(opts.appFilters ?? {})) {
      if (!/^(0|[1-9][0-9]*)$/.test(app) || !Array.isArray(opts.appFilters![Number(app)])) {
        throw new PsError(
          PsErrorCode.CONFIG,
          `appFilters: each key must be an app id (a non-negative integer) and each value a list of filters, got ${app}`,
        );
      }
    }
    const id = opts.id ?? `${opts.role}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
    const log = opts.logger ?? consoleLogger(`ps-${opts.role} ${id}`, logLevelFromEnv());
    const ep = new Endpoint(
      opts.transport,
      () => id,
      log,
      opts.maxFrameBytes,
      defaultChain(opts),
      opts.appFilters,
    );
    const address = await opts.transport.bind(
      { id, host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 },
      { listen: opts.listen ?? opts.role === 'server' },
    );
    return new PsNode(id, opts.role, address, ep, opts, log);
  }

  /** The largest frame this node sends or takes, in bytes (`maxFrameBytes`, default 512 MiB). */
  get maxFrameBytes(): number {
    return this.ep.maxFrameBytes;
  }

  /** Traffic sent and received by this node. */
  get stats(): TrafficStats {
    return this.ep.stats;
  }

  /** Milliseconds since this node last heard from the scheduler (a heartbeat answer, a view). */
  get schedulerSilenceMs(): number {
    return Date.now() - this.lastFromScheduler;
  }

  /**
   * Connections made and lost (the transport's events): delivery resends what a peer has not
   * answered as soon as its connection is back.
   */
  get links$(): Observable<TransportEvent> {
    return this.ep.transport.events$;
  }

  /** The transport's kind (`tcp`, `inproc`, ...). */
  get transportKind(): string {
    return this.ep.transport.kind;
  }

  /** The latest cluster view, or undefined before this node joined (see `cluster$`). */
  get currentView(): ClusterView | undefined {
    return this.views.value;
  }

  /** The cluster view; throws `PS_ERR_PROTOCOL` before `start()` completed. */
  get view(): ClusterView {
    const v = this.views.value;
    if (!v)
      throw new PsError(
        PsErrorCode.PROTOCOL,
        'the node has not joined a cluster yet; await node.start() first',
      );
    return v;
  }

  /** This node's rank within its role (0-based), once started. */
  get rank(): number {
    const list = this.role === 'server' ? this.view.servers : this.view.workers;
    const me = list.find((n) => n.id === this.id);
    if (!me) throw new PsError(PsErrorCode.PROTOCOL, `node ${this.id} is not in the cluster view`);
    return me.rank;
  }

  /**
   * Routes data messages of one app id to a customer. A server node attaches `kind: 'server'`
   * (it receives requests), a worker `kind: 'worker'` (it receives responses).
   */
  attach(app: number, kind: 'server' | 'worker', handler: CustomerHandler): void {
    const key = `${app}:${kind}`;
    if (this.customers.has(key)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `app ${app} already has a ${kind} on this node; use another app id`,
      );
    }
    this.customers.set(key, handler);
  }

  /** @internal Routes the replication messages of app `app` to a server's replication (`KVServer` calls it). */
  attachReplica(app: number, port: ReplicaPort): void {
    if (this.replicaPorts.has(app)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `app ${app} already has a server on this node; use another app id`,
      );
    }
    this.replicaPorts.set(app, port);
  }

  /** Registers a callback run once when the node terminates (to reject pending requests). */
  onTerminate(hook: (err: PsError) => void): void {
    this.terminateHooks.push(hook);
  }

  /**
   * Registers with the scheduler and resolves with the cluster view once every expected node
   * has registered; workers then connect to every server.
   * @throws PsError `PS_ERR_PEER_UNREACHABLE` (no scheduler), `PS_ERR_CLUSTER_FULL`,
   *   `PS_ERR_TIMEOUT` (the cluster did not fill within `startTimeoutMs`; the message names the
   *   roles still missing, from the scheduler's counts).
   */
  async start(): Promise<ClusterView> {
    if (this.started) return this.view;
    this.started = true;
    const sched = await this.ep.transport.connect(this.opts.scheduler);
    if (sched !== SCHEDULER_ID) {
      throw new PsError(
        PsErrorCode.HANDSHAKE,
        `the peer at ${this.opts.scheduler.host}:${this.opts.scheduler.port} is ${sched}, not the scheduler`,
      );
    }
    this.schedulerLinked = true;
    const ready = new Promise<ClusterView>((resolve, reject) => {
      this.startWait = { resolve, reject };
    });
    const timeoutMs = this.opts.startTimeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      this.startWait?.reject(clusterDidNotFill(timeoutMs, this.fill));
    }, timeoutMs);
    this.lastFromScheduler = Date.now();
    this.lease.start();
    this.subs.push(
      this.ep.transport.events$.subscribe((ev) => {
        if (ev.peer !== SCHEDULER_ID || this.closed) return;
        if (ev.type === 'connected') void this.register().catch(() => undefined);
        else if (ev.type === 'disconnected')
          this.log.warn('lost the connection to the scheduler; reconnecting');
        else if (ev.error.code === PsErrorCode.PEER_UNREACHABLE) this.redialScheduler();
      }),
    );
    await this.register();
    this.startHeartbeat();
    try {
      const view = await ready;
      await Promise.all([...this.connecting.values()]);
      this.log.info(`joined cluster view ${view.version} as ${this.role} rank ${this.rank}`);
      return view;
    } finally {
      clearTimeout(timer);
      this.startWait = undefined;
    }
  }

  /**
   * Registers with the scheduler: at start, and again on every reconnection, then with this
   * node's state (its last view, the barriers it waits in, whether it is done), so that a
   * restarted scheduler can rebuild the cluster and a live one can answer what a lost link dropped.
   */
  private register(): Promise<void> {
    const view = this.views.value;
    let resume: WireResumeState | undefined;
    if (view) {
      const pending = [...this.barrierWaits.keys()].map((k) => {
        const [group, seq] = k.split(':');
        return { group: group as BarrierGroup, seq: Number(seq) };
      });
      resume = { view: viewToWire(view), pending, entered: { ...this.barrierSeq }, done: this.finalized };
    }
    return this.sendControl(SCHEDULER_ID, 'register', {
      role: this.role,
      host: this.address.host,
      port: this.address.port,
      filters: chainsSignature(defaultChain(this.opts), this.opts.appFilters),
      token: this.token,
      ...(resume ? { resume } : {}),
      ...this.workerProgress?.registration(),
    });
  }

  /**
   * Dials the scheduler's address again once the transport gave up reconnecting (the scheduler
   * is down for longer than its reconnect window), until it answers or the node stops.
   */
  private redialScheduler(): void {
    if (this.redialing || this.closed) return;
    this.redialing = true;
    const at = this.opts.scheduler;
    this.log.warn(`the scheduler at ${at.host}:${at.port} stays unreachable; dialing it again`);
    void (async () => {
      for (let attempt = 0; attempt < 100_000 && !this.closed; attempt++) {
        try {
          const id = await this.ep.transport.connect(at);
          if (id !== SCHEDULER_ID) {
            this.terminate(
              new PsError(
                PsErrorCode.HANDSHAKE,
                `the peer at ${at.host}:${at.port} is ${id}, not the scheduler`,
              ),
            );
          } else await this.register();
          return;
        } catch {
          // Unreachable for the transport's connect timeout: try again until the node gives up.
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })().finally(() => {
      this.redialing = false;
    });
  }

  private startHeartbeat(): void {
    const every = this.opts.heartbeatIntervalMs ?? 500;
    const timeout = this.opts.heartbeatTimeoutMs ?? 10_000;
    const giveUp = timeout + (this.opts.schedulerReconnectMs ?? 30_000);
    this.heartbeat = setInterval(() => {
      const silent = Date.now() - this.lastFromScheduler;
      if (silent > giveUp) {
        const { host, port } = this.opts.scheduler;
        this.terminate(
          new PsError(
            PsErrorCode.NODE_DEAD,
            `no word from the scheduler for ${silent} ms (heartbeat timeout ${timeout} ms, then redialing ${host}:${port} until ${giveUp} ms); this node stops: is the scheduler alive? Restart it at the same address with recover to keep the run`,
          ),
        );
        return;
      }
      const seq = this.lease.beat();
      const epoch = this.views.value?.epoch ?? 0;
      void this.sendControl(SCHEDULER_ID, 'heartbeat', { seq, epoch, token: this.token }).catch(
        (err: unknown) => {
          // No connection left to the scheduler (the transport gave up on it): dial it again. A
          // write that failed on a reset link is not that: the transport is reconnecting it.
          if ((err as PsError).code === PsErrorCode.UNKNOWN_PEER) this.redialScheduler();
        },
      );
    }, every);
    this.heartbeat.unref?.();
  }

  /**
   * Sends a data message (used by KVWorker and KVServer). `keys`: for a response, the keys of
   * the request it answers, which filters such as significant-update need.
   */
  send(
    to: NodeId,
    meta: Omit<Meta, 'sender' | 'recipient'>,
    data: Segment[],
    keys?: BigUint64Array,
  ): Promise<void> {
    if (this.closed) return Promise.reject(new PsError(PsErrorCode.CLOSED, `node ${this.id} is closed`));
    const opening = this.connecting.get(to);
    if (opening) return opening.then(() => this.ep.send(to, meta, data, keys));
    return this.ep.send(to, meta, data, keys);
  }

  /** @internal As the endpoint's `segmentsFreeOnceSent`: a data message's memory is free once `send` resolved. */
  segmentsFreeOnceSent(app: number): boolean {
    return this.ep.segmentsFreeOnceSent(app);
  }

  /**
   * Opens connections to the servers of a view this node does not reach yet (a worker talks to
   * every server; a server to the others, for replication). Sends to a server wait for its
   * connection. A server that cannot be reached is logged; the scheduler declares it dead.
   */
  private connectServers(view: ClusterView): void {
    for (const s of view.servers) {
      if (s.id === this.id || s.port === 0 || this.connected.has(s.id) || this.connecting.has(s.id)) continue;
      if (view.dead.includes(s.id)) continue;
      const p = this.ep.transport
        .connect({ host: s.host, port: s.port })
        .then(
          () => {
            this.connected.add(s.id);
          },
          (err: unknown) => {
            if (!this.closed) this.log.warn(`could not connect to server ${s.id}: ${(err as Error).message}`);
          },
        )
        .finally(() => this.connecting.delete(s.id));
      this.connecting.set(s.id, p);
    }
  }

  /**
   * Leaves the cluster gracefully (a server): the scheduler moves this server's ranges to the
   * servers that follow them on the ring (two-phase copy), publishes the new ring and then
   * terminates this node. Resolves once terminated.
   * @throws PsError `PS_ERR_PROTOCOL` on a worker (a worker leaves with `finalize()`).
   */
  async leave(): Promise<void> {
    if (this.role !== 'server') {
      throw new PsError(PsErrorCode.PROTOCOL, 'only a server leaves with leave(); a worker calls finalize()');
    }
    await this.sendControl(SCHEDULER_ID, 'leave');
    await this.terminated;
  }

  /**
   * Lets filters decoding the answers to app `app`'s requests know which keys each request asked
   * of each server (set by a KVWorker).
   */
  provideRequestKeys(
    app: number,
    keysOf: (peer: NodeId, ts: number, part?: number) => BigUint64Array | undefined,
  ): void {
    this.requestKeys.set(app, keysOf);
  }

  private sendControl(
    to: NodeId,
    cmd:
      | 'register'
      | 'heartbeat'
      | 'barrier'
      | 'worker-done'
      | 'leave'
      | 'migrate-done'
      | 'task-state'
      | 'progress',
    body?: unknown,
  ): Promise<void> {
    return this.ep.send(to, { app: 0, ts: 0, request: true, push: false, pull: false, cmd, body });
  }

  /**
   * Waits until every live member of `group` reached the same barrier.
   * @throws PsError `PS_ERR_SHUTDOWN` when the node terminates first.
   */
  async barrier(group: BarrierGroup = 'all'): Promise<void> {
    const seq = ++this.barrierSeq[group];
    const key = `${group}:${seq}`;
    const done = new Promise<void>((resolve, reject) => this.barrierWaits.set(key, { resolve, reject }));
    // A barrier sent over a link that drops is entered again when this node registers again.
    await this.sendControl(SCHEDULER_ID, 'barrier', { group, seq }).catch(() => undefined);
    return done;
  }

  /**
   * Ends this node's part of the job. A worker tells the scheduler it is done (the scheduler
   * terminates the cluster once every worker is); then it waits for termination and closes.
   */
  async finalize(): Promise<void> {
    if (this.role === 'worker' && !this.closed) {
      this.finalized = true;
      this.workerProgress?.done();
      await this.sendControl(SCHEDULER_ID, 'worker-done').catch(() => undefined);
    }
    await this.terminated;
  }

  /**
   * True while this server may serve: it sent a heartbeat that the scheduler answered less than
   * `leaseMs` ago, so the scheduler cannot have declared it dead (it never does within the lease).
   * A server back from a pause (SIGSTOP, a long GC, a partition) past its lease holds requests
   * until the scheduler answers again, or tells it that it is dead: it never serves stale values.
   */
  private leaseValid(): boolean {
    const view = this.views.value;
    return this.role !== 'server' || !view || this.lease.valid(view.leaseMs);
  }

  private onMessage(msg: Message): void {
    const { meta } = msg;
    if (meta.sender === SCHEDULER_ID) this.lastFromScheduler = Date.now();
    if (meta.cmd !== undefined) {
      this.onControl(msg);
      return;
    }
    if (meta.error?.code === PsErrorCode.FENCED && !meta.request && this.isServer(meta.sender)) {
      // A server refused this node's request: its view lists this node as dead.
      this.terminate(PsError.fromWire(meta.error));
      return;
    }
    if (meta.request && this.views.value?.dead.includes(meta.sender)) {
      this.log.warn(`request ts ${meta.ts} from ${meta.sender} refused: it was declared dead`);
      this.answerWithError(
        meta,
        new PsError(
          PsErrorCode.FENCED,
          `node ${meta.sender} was declared dead by the scheduler; ${this.id} refuses its requests: restart it and it joins as a new node`,
        ),
      );
      return;
    }
    if (meta.request && !this.leaseValid()) {
      if (!this.lease.hold(msg)) this.answerWithError(meta, this.leaseLapsed());
      return;
    }
    this.deliver(msg);
  }

  private isServer(id: NodeId): boolean {
    return this.views.value?.servers.some((s) => s.id === id) ?? false;
  }

  /** The refusal of a request this server cannot serve: its lease lapsed, or it was declared dead. */
  private leaseLapsed(): PsError {
    // WRONG_OWNER: the worker re-slices by the next ring (which no longer holds this server).
    return new PsError(
      PsErrorCode.WRONG_OWNER,
      `server ${this.id} lost its lease (no answer from the scheduler for ${this.lease.age()} ms) and may have been declared dead; resend to the range's current owner`,
    );
  }

  /** Hands the requests held while the lease had lapsed to their customers (the lease is back). */
  private releaseHeld(): void {
    if (this.closed || !this.leaseValid()) return;
    for (const m of this.lease.takeHeld()) this.deliver(m);
  }

  private deliver(msg: Message): void {
    const { meta } = msg;
    const kind = meta.request ? 'server' : 'worker';
    const customer = this.customers.get(`${meta.app}:${kind}`);
    if (customer) {
      customer(msg);
      return;
    }
    if (meta.request) {
      const err = new PsError(
        PsErrorCode.UNKNOWN_APP,
        `node ${this.id} has no ${this.role === 'server' ? 'handler' : 'server'} for app ${meta.app}; create a KVServer for it`,
      );
      this.log.warn(err.message);
      this.answerWithError(meta, err);
    } else {
      this.log.warn(
        `response for app ${meta.app} ts ${meta.ts} from ${meta.sender} has no worker here; dropped`,
      );
    }
  }

  /**
   * A data message the filter chain could not decode: a request is answered with the error (so
   * the sender's wait() rejects instead of hanging); a response fails the request it answers.
   */
  private onUndecodable(msg: Message, err: PsError): void {
    const { meta } = msg;
    if (meta.request) {
      this.answerWithError(meta, err);
      return;
    }
    this.customers.get(`${meta.app}:worker`)?.({ meta: { ...meta, error: err.toWire() }, data: [] });
  }

  /** Answers a data request with an error, so that the sender's wait() rejects with it. */
  private answerWithError(meta: Meta, err: PsError): void {
    const ring = this.views.value?.ring.version ?? 0;
    void this.ep
      .send(meta.sender, {
        app: meta.app,
        ts: meta.ts,
        request: false,
        push: meta.push,
        pull: meta.pull,
        error: err.toWire(),
        ...(meta.part !== undefined ? { part: meta.part } : {}),
        // A refusal for a ring reason names a ring newer than this node's: the worker waits for it.
        ...(err.code === PsErrorCode.WRONG_OWNER ? { ring: ring + 1 } : {}),
      })
      .catch(() => undefined);
  }

  private onControl(msg: Message): void {
    const { meta } = msg;
    if (REPLICA_COMMANDS.has(meta.cmd!)) {
      const view = this.views.value;
      const creds = this.ep.transport.credentials;
      // Per-role secrets: only a peer that proved the servers' secret is a server here.
      const fromServer =
        (view?.servers.some((s) => s.id === meta.sender) ?? false) &&
        (!(creds instanceof RoleSecrets) || creds.roleOf(meta.sender) === 'server');
      if (view?.dead.includes(meta.sender)) {
        this.log.warn(`${meta.cmd} from ${meta.sender} refused: it was declared dead`);
        return;
      }
      if (this.role !== 'server' || !fromServer) {
        this.log.warn(
          `${meta.cmd} from ${meta.sender} ignored: only servers of this cluster exchange replicas`,
        );
        return;
      }
      const port = this.replicaPorts.get(meta.app);
      if (port) port.onReplicaMessage(msg);
      else this.log.warn(`${meta.cmd} for app ${meta.app} has no server here; dropped`);
      return;
    }
    if (meta.sender !== SCHEDULER_ID || !this.schedulerLinked || !SCHEDULER_COMMANDS.has(meta.cmd!)) {
      this.log.warn(
        `control command ${meta.cmd} from ${meta.sender} ignored: only the scheduler sends commands`,
      );
      return;
    }
    switch (meta.cmd) {
      case 'migrate':
        void this.onMigrate(meta.body);
        return;
      case 'cluster': {
        if (meta.error) {
          const err = PsError.fromWire(meta.error);
          this.startWait?.reject(err);
          this.terminate(err);
          return;
        }
        let view: ClusterView;
        try {
          view = viewFromWire(meta.body as WireClusterView);
        } catch (e) {
          this.log.error(`bad cluster view from the scheduler: ${(e as Error).message}`);
          return;
        }
        this.connectServers(view);
        this.views.next(view);
        if (view.servers.some((s) => s.id === this.id) || view.workers.some((w) => w.id === this.id)) {
          this.startWait?.resolve(view);
        }
        return;
      }
      case 'barrier-done': {
        const { group, seq } = (meta.body ?? {}) as { group?: string; seq?: number };
        const key = `${group}:${seq}`;
        this.barrierWaits.get(key)?.resolve();
        this.barrierWaits.delete(key);
        return;
      }
      case 'terminate':
        this.terminate();
        return;
      case 'task':
        this.tasks.onTask(meta.body);
        return;
      case 'progress-clock':
        try {
          this.workerProgress?.receive(meta.body);
        } catch (e) {
          this.log.warn(`bad progress clock from the scheduler: ${(e as Error).message}`);
        }
        return;
      case 'heartbeat': {
        if (meta.error) {
          this.terminate(PsError.fromWire(meta.error));
          return;
        }
        // Until the cluster starts, the scheduler's heartbeat says how far it has filled.
        if (this.startWait) this.fill = fillFromWire(meta.body) ?? this.fill;
        this.lease.answered((meta.body as { seq?: unknown } | undefined)?.seq);
        this.releaseHeld();
        return;
      }
      default:
        this.log.warn(`unexpected command ${meta.cmd} from the scheduler`);
    }
  }

  /** The scheduler's order to copy ranges to other servers (a join or a leave): every app copies. */
  private async onMigrate(body: unknown): Promise<void> {
    const { version, ring, moves } = (body ?? {}) as { version?: number; ring?: WireRing; moves?: unknown };
    let parsed: { ring: Ring; moves: RangeMove[] };
    try {
      if (!Array.isArray(moves) || !ring) throw new RangeError('no moves');
      parsed = {
        ring: Ring.fromWire(ring),
        moves: moves.map((m: { to: string; ranges: [string, string][] }) => ({
          to: String(m.to),
          ranges: m.ranges.map(([b, e]) => ({ begin: BigInt(b), end: BigInt(e) })),
        })),
      };
    } catch (err) {
      this.log.error(`bad migrate order from the scheduler: ${(err as Error).message}`);
      return;
    }
    try {
      await Promise.all([...this.replicaPorts.values()].map((p) => p.migrate(parsed.ring, parsed.moves)));
      await this.sendControl(SCHEDULER_ID, 'migrate-done', { version });
    } catch (err) {
      this.log.warn(`range move for ring ${version} failed: ${(err as Error).message}`);
      await this.sendControl(SCHEDULER_ID, 'migrate-done', { version, error: (err as Error).message }).catch(
        () => undefined,
      );
    }
  }

  private terminate(err?: PsError): void {
    if (this.closed) return;
    this.terminationError = err;
    if (err) this.log.error(err.message);
    else this.log.info('terminated by the scheduler');
    void this.close();
  }

  /** Closes the node: stops heartbeats, rejects waits, closes the transport. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.terminated;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.tasks.close();
    const err =
      this.terminationError ?? new PsError(PsErrorCode.SHUTDOWN, `node ${this.id} is shutting down`);
    for (const w of this.barrierWaits.values()) w.reject(err);
    this.barrierWaits.clear();
    this.startWait?.reject(err);
    for (const hook of this.terminateHooks) hook(err);
    // Requests held while the lease had lapsed: their workers resend them to the new owner.
    for (const m of this.lease.takeHeld()) this.answerWithError(m.meta, this.leaseLapsed());
    for (const s of this.subs) s.unsubscribe();
    await this.ep.close().catch(() => undefined);
    this.views.complete();
    this.resolveTerminated();
  }
}
