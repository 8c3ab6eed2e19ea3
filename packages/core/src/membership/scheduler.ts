import { BehaviorSubject, filter, type Observable, type Subscription } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import { consoleLogger, type Logger, logLevelFromEnv } from '../internal/logger.js';
import { Endpoint, type TrafficStats } from '../net/endpoint.js';
import { RoleSecrets } from '../net/role-secrets.js';
import type { Transport } from '../net/transport.js';
import { type Message, type NodeAddress, type NodeId, SCHEDULER_ID } from '../wire/message.js';
import type { ClusterFill } from './cluster-fill.js';
import { type ClusterView, type NodeInfo, viewToWire } from './cluster-view.js';
import { ProgressKeeper, progressReportFromWire } from './progress-keeper.js';
import { type ResumeState, resumeStateFromWire } from './resume-state.js';
import { DEFAULT_VIRTUAL_NODES, movedRanges, Ring } from './ring.js';
import { ringChanges } from './ring-changes.js';
import { SchedulerRecovery } from './scheduler-recovery.js';
import { TaskIssuer, type TaskIssuerOptions } from './task-issuer.js';

/** Groups a barrier can span. */
export type BarrierGroup = 'servers' | 'workers' | 'all';

/** Options of {@link Scheduler.start}. */
export interface SchedulerOptions {
  transport: Transport;
  /** Listening host (default `127.0.0.1`). */
  host?: string;
  /** Listening port (default 0: the OS picks one; read it from `scheduler.address`). */
  port?: number;
  /** Servers the cluster waits for before it starts. */
  numServers: number;
  /** Workers the cluster waits for before it starts. */
  numWorkers: number;
  /**
   * A node silent for this long (ms) is declared dead. Default 2,000 (nodes send a heartbeat
   * every 500 ms by default). A node whose connection closed (a killed process) is declared dead
   * sooner: when it has not reconnected within a quarter of this time and has been silent for
   * half of it (the servers' lease, `ClusterView.leaseMs`: never shorter, so that a server that
   * still holds its lease is never declared dead), unless it reconnected within the heartbeat
   * timeout (a link that is reset again and again is not a killed process).
   */
  heartbeatTimeoutMs?: number;
  /**
   * Replicas per key range besides its master (k; section 4.3). Default 0: replication is opted
   * into, as in the paper (ps-lite and BytePS have none). Capped by the number of servers minus one.
   */
  replicas?: number;
  /**
   * Sync mode (aggregation on servers): every server sums each iteration's pushes of the live
   * workers and applies the update rule once to the sum (see `KVServerOptions.sync`). Carried in
   * the view (`ClusterView.sync`) so that every role agrees. Default false.
   */
  sync?: boolean;
  /** Virtual servers per server on the ring (section 4.2). Default {@link DEFAULT_VIRTUAL_NODES}. */
  virtualNodes?: number;
  /**
   * How long a range move (a server joining or leaving) may take before it is abandoned, in ms.
   * Default 120,000.
   */
  migrateTimeoutMs?: number;
  /** Shut the whole cluster down once every live worker called `finalize()`. Default true. */
  terminateWhenWorkersDone?: boolean;
  logger?: Logger;
  maxFrameBytes?: number;
  /**
   * This run's id (see `ClusterView.run`). Default: the start time and a random part. A scheduler
   * started again to recover a run (`recover`) takes the same id, or leaves it out and adopts the
   * run the first node reports.
   */
  run?: string;
  /**
   * Start as the scheduler of a running cluster whose scheduler died (a new process at the same
   * address, with the same secret and options): the nodes reconnect and register again with their
   * state, and the scheduler rebuilds membership, the servers' ring (no range moves), the epoch and
   * the barriers from it. Default false.
   */
  recover?: boolean;
  /**
   * With `recover`: how long the scheduler waits for the nodes of the last view to register again,
   * in ms; those that have not by then are declared dead (fenced) as usual. It resumes at once
   * when every one is back. Default 10,000.
   */
  recoveryWindowMs?: number;
  /** Bounds of the task graph (`scheduler.tasks`): unfinished tasks per node, settled tasks kept. */
  tasks?: TaskIssuerOptions;
}

interface Member extends NodeInfo {
  lastSeen: number;
  /**
   * The secret the node chose when it registered (never sent out): only heartbeats that carry it
   * keep the node alive, so a second connection under its id cannot hide its death.
   */
  token: string | undefined;
  dead: boolean;
  /** Left the cluster gracefully: no longer listed. */
  left?: boolean;
  /** When its connection closed (0: connected). */
  lostAt: number;
  /** When it last reconnected (0: never): a link that flaps is not a killed process. */
  reconnectedAt?: number;
}

/** A membership change that moves key ranges: one runs at a time. */
interface RingChange {
  kind: 'join' | 'leave';
  id: NodeId;
}

interface Migration {
  change: RingChange;
  target: Ring;
  waiting: Set<NodeId>;
  timer: ReturnType<typeof setTimeout>;
  startedAt: number;
}

/**
 * The scheduler (the paper's server manager, section 4.2): registers nodes and gives them
 * ranks, owns the consistent-hash ring and publishes each version on `cluster$`, runs barriers,
 * watches heartbeats, and shuts the cluster down in order. It holds no parameters.
 *
 * Membership is elastic once the cluster started: a dead server leaves the ring at once (its
 * first replica holds its ranges, so it becomes their master); a server that registers late
 * joins, and one that asks to leave goes, each by a two-phase range move (the current owners
 * copy the ranges, keep forwarding pushes to the newcomer, then the new ring is published); a
 * late worker simply joins. Ring changes run one at a time.
 */
export class Scheduler {
  /**
   * The views published, the latest first to new subscribers; never exposed (and hidden behind
   * `asObservable()`: a Subject piped is still a Subject, with a `next()`).
   */
  private readonly views = new BehaviorSubject<ClusterView | undefined>(undefined);
  /**
   * The cluster views this scheduler publishes, read-only: the current one at once (none until
   * every expected node registered), then each newer one; completes at shutdown. The latest one
   * synchronously: {@link Scheduler.currentView}.
   */
  readonly cluster$: Observable<ClusterView> = this.views
    .asObservable()
    .pipe(filter((v): v is ClusterView => v !== undefined));
  /** The ring's changes: the current ring, then each one with a new version (see `PsNode.ring$`). */
  readonly ring$: Observable<Ring> = this.cluster$.pipe(ringChanges());

  /** The latest view published, or undefined until every expected node registered. */
  get currentView(): ClusterView | undefined {
    return this.views.value;
  }
  /** Resolves when the scheduler has told every node to terminate and closed its transport. */
  readonly terminated: Promise<void>;
  /** Tasks across nodes: issue named tasks with dependencies to workers or servers (see {@link TaskIssuer}). */
  readonly tasks: TaskIssuer;

  private readonly members = new Map<NodeId, Member>();
  private readonly barriers = new Map<string, Set<NodeId>>();
  private readonly done = new Set<NodeId>();
  /** The filter chain signature of the first node that registered; every other must match. */
  private filterChain: string | undefined;
  private readonly heartbeatTimeoutMs: number;
  private ring: Ring | undefined;
  private replicas = 0;
  private readonly changes: RingChange[] = [];
  private migration: Migration | undefined;
  private nextRank = { server: 0, worker: 0 };
  /** Membership epoch (see `ClusterView.epoch`). */
  private epoch = 0;
  private runId: string;
  /** The recovery phase of a restarted scheduler (`recover`), until it resumes the cluster. */
  private recovery: SchedulerRecovery | undefined;
  private recoveryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Registrations without a state, held while recovering (they join once it resumed). */
  private readonly heldRegistrations: Message[] = [];
  /** Per group, the last barrier released: a node that re-enters it is answered at once. */
  private readonly released = { servers: 0, workers: 0, all: 0 };
  /** Views continue past the version the nodes last saw (after a recovery). */
  private versionFloor = 0;
  /** The workers' progress clocks (the cross-worker bounded delay). */
  private readonly progress = new ProgressKeeper(
    (to, clock) => void this.sendTo(to, 'progress-clock', clock),
  );
  private readonly sub: Subscription;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  private resolveTerminated!: () => void;

  private constructor(
    private readonly ep: Endpoint,
    readonly address: NodeAddress,
    private readonly opts: SchedulerOptions,
    private readonly log: Logger,
  ) {
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 2000;
    this.runId = opts.run ?? `${Date.now().toString(36)}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
    if (opts.recover) {
      this.recovery = new SchedulerRecovery();
      const windowMs = opts.recoveryWindowMs ?? 10_000;
      this.recoveryTimer = setTimeout(
        () => this.finishRecovery(`the window of ${windowMs} ms closed`),
        windowMs,
      );
      this.recoveryTimer.unref?.();
    }
    this.terminated = new Promise((r) => {
      this.resolveTerminated = r;
    });
    this.tasks = new TaskIssuer(
      {
        view: () => this.views.value,
        send: (to, body) => this.sendCommand(to, 'task', body),
        links$: ep.transport.events$,
      },
      this.cluster$,
      opts.tasks,
    );
    this.sub = ep.messages$.subscribe((m) => this.onMessage(m));
    this.timer = setInterval(
      () => this.checkHeartbeats(),
      Math.max(20, Math.min(250, this.heartbeatTimeoutMs / 8)),
    );
    this.timer.unref?.();
    this.sub.add(
      ep.transport.events$.subscribe((ev) => {
        const m = ev.type === 'error' || ev.peer === undefined ? undefined : this.members.get(ev.peer);
        if (!m) return;
        if (ev.type === 'disconnected') m.lostAt = Date.now();
        else if (ev.type === 'connected') {
          m.lostAt = 0;
          m.reconnectedAt = Date.now();
        }
      }),
    );
  }

  /**
   * Binds the scheduler's address and starts accepting registrations.
   * @throws PsError `PS_ERR_CONFIG` for non-positive node counts, `PS_ERR_BIND` when the port is taken.
   */
  static async start(opts: SchedulerOptions): Promise<Scheduler> {
    for (const k of ['numServers', 'numWorkers'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) {
        throw new PsError(PsErrorCode.CONFIG, `${k} must be a positive integer, got ${opts[k]}`);
      }
    }
    if (opts.replicas !== undefined && (!Number.isInteger(opts.replicas) || opts.replicas < 0)) {
      throw new PsError(PsErrorCode.CONFIG, `replicas must be a non-negative integer, got ${opts.replicas}`);
    }
    Ring.create([], { virtualNodes: opts.virtualNodes ?? DEFAULT_VIRTUAL_NODES }); // validates
    if (
      opts.recoveryWindowMs !== undefined &&
      !(opts.recoveryWindowMs > 0 && opts.recoveryWindowMs <= 3_600_000)
    ) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `recoveryWindowMs must be a positive number of ms (at most 3,600,000), got ${opts.recoveryWindowMs}`,
      );
    }
    if (opts.run !== undefined && (typeof opts.run !== 'string' || !/^[\w.-]{1,64}$/.test(opts.run))) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `run must be 1 to 64 letters, digits, '.', '_' or '-', got ${String(opts.run)}`,
      );
    }
    const log = opts.logger ?? consoleLogger('ps-scheduler', logLevelFromEnv());
    const ep = new Endpoint(opts.transport, () => SCHEDULER_ID, log, opts.maxFrameBytes);
    const address = await opts.transport.bind({
      id: SCHEDULER_ID,
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
    });
    log.info(
      opts.recover
        ? `listening on ${address.host}:${address.port}, recovering: waiting for the nodes to register again`
        : `listening on ${address.host}:${address.port}, waiting for ${opts.numServers} servers and ${opts.numWorkers} workers`,
    );
    return new Scheduler(ep, address, opts, log);
  }

  /** This run's id (see `ClusterView.run` and the `run` option). */
  get run(): string {
    return this.runId;
  }

  /** True while a restarted scheduler waits for the nodes to register again (see `recover`). */
  get recovering(): boolean {
    return this.recovery !== undefined;
  }

  /** Traffic through the scheduler. */
  get stats(): TrafficStats {
    return this.ep.stats;
  }

  /** Per live node: milliseconds since the scheduler last heard from it (a heartbeat), for metrics. */
  heartbeatAges(): { id: NodeId; role: NodeInfo['role']; ms: number }[] {
    const now = Date.now();
    return this.live().map((m) => ({ id: m.id, role: m.role, ms: now - m.lastSeen }));
  }

  private live(role?: NodeInfo['role']): Member[] {
    return [...this.members.values()].filter(
      (m) => !m.dead && !m.left && (role === undefined || m.role === role),
    );
  }

  /** The servers' lease: half the heartbeat timeout (see `ClusterView.leaseMs`). */
  private get leaseMs(): number {
    return this.heartbeatTimeoutMs / 2;
  }

  private onMessage(msg: Message): void {
    const { sender, cmd } = msg.meta;
    const member = this.members.get(sender);
    if (member && (member.dead || member.left) && cmd !== 'register') {
      // A node declared dead (a zombie back from a pause) hears so, and is not heard: its
      // heartbeats do not revive it.
      if (member.dead && msg.meta.request) this.fence(member);
      return;
    }
    if (member && (member.token === undefined || cmd === 'heartbeat')) {
      const { token } = (msg.meta.body ?? {}) as { token?: unknown };
      if (member.token === undefined || token === member.token) {
        member.lastSeen = Date.now();
        member.lostAt = 0;
      } else {
        this.warnImpostor(member);
        return;
      }
    }
    if (cmd === 'register') {
      this.onRegister(msg);
      const m = this.members.get(sender);
      if (m?.role === 'worker' && !m.dead && !m.left)
        this.progress.rejoined(
          sender,
          progressReportFromWire((msg.meta.body as { progress?: unknown })?.progress),
        );
      return;
    }
    if (!member) {
      // While recovering, nodes that have not registered again yet still send heartbeats.
      if (this.recovery) return;
      this.log.warn(
        new PsError(PsErrorCode.UNKNOWN_PEER, `message from unregistered node ${sender} ignored`).message,
      );
      return;
    }
    switch (cmd) {
      case 'heartbeat': {
        // Echo the beat's sequence number: the node's lease runs from when it sent that beat.
        const { seq, epoch } = (msg.meta.body ?? {}) as { seq?: unknown; epoch?: unknown };
        // Until the cluster starts, the answer also says how far it has filled.
        const answer = { ...(Number.isInteger(seq) ? { seq } : {}), ...this.fillBody() };
        this.sendTo(sender, 'heartbeat', Object.keys(answer).length > 0 ? answer : undefined);
        // A node that missed a view (its epoch is behind) gets the current one again.
        const view = this.views.value;
        if (view && typeof epoch === 'number' && epoch < view.epoch)
          this.sendTo(sender, 'cluster', viewToWire(view));
        return;
      }
      case 'barrier':
        this.onBarrier(sender, msg.meta.body);
        return;
      case 'progress': {
        const report = progressReportFromWire(msg.meta.body);
        if (member.role === 'worker' && report) this.progress.report(sender, report);
        return;
      }
      case 'worker-done':
        if (member.role !== 'worker') break;
        this.done.add(sender);
        this.log.info(`worker ${sender} done (${this.done.size}/${this.live('worker').length})`);
        this.maybeFinish();
        return;
      case 'leave':
        if (member.role !== 'server' || member.dead || member.left) break;
        this.log.info(`server ${sender} asks to leave`);
        this.changes.push({ kind: 'leave', id: sender });
        this.nextChange();
        return;
      case 'migrate-done':
        this.onMigrateDone(sender, msg.meta.body);
        return;
      case 'task-state':
        this.tasks.onTaskState(sender, msg.meta.body);
        return;
      default:
        if (msg.meta.request) {
          const err = new PsError(
            PsErrorCode.PROTOCOL,
            `the scheduler holds no parameters; send ${cmd ?? 'data'} requests to servers`,
          );
          void this.ep
            .send(sender, { ...msg.meta, request: false, error: err.toWire() })
            .catch(() => undefined);
        }
    }
  }

  private onRegister(msg: Message): void {
    const { sender } = msg.meta;
    const body = (msg.meta.body ?? {}) as Partial<NodeInfo>;
    const role = body.role;
    if (role !== 'server' && role !== 'worker') {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.MESSAGE_INVALID,
          `register: role must be server or worker, got ${String(role)}`,
        ),
      );
      return;
    }
    const creds = this.ep.transport.credentials;
    if (creds instanceof RoleSecrets && creds.roleOf(sender) !== role) {
      // Per-role secrets: a node registers in the role whose secret it proved at the handshake.
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.AUTH,
          `${sender} asked to register as a ${role} but proved the ${creds.roleOf(sender) ?? 'no'} credential; a ${role} needs the ${role}s' secret`,
        ),
      );
      return;
    }
    const existing = this.members.get(sender);
    if (existing && existing.role !== role) {
      // A node keeps the role it registered with (a worker cannot become a server).
      this.log.warn(
        new PsError(
          PsErrorCode.PROTOCOL,
          `${existing.role} ${sender} asked to register as a ${role}; ignored`,
        ).message,
      );
      return;
    }
    const token =
      typeof (body as { token?: unknown }).token === 'string' ? (body as { token: string }).token : undefined;
    let resume: ResumeState | undefined;
    if ((body as { resume?: unknown }).resume !== undefined) {
      try {
        resume = resumeStateFromWire((body as { resume?: unknown }).resume);
      } catch (err) {
        this.replyError(
          sender,
          new PsError(PsErrorCode.MESSAGE_INVALID, `register: bad resume state: ${(err as Error).message}`),
        );
        return;
      }
      if (resume.view.run !== this.runId) {
        if (this.recovery && this.opts.run === undefined && this.recovery.run === undefined) {
          this.runId = resume.view.run; // a restarted scheduler not told its run adopts the nodes'
          this.log.info(`recovering run ${this.runId}`);
        } else {
          this.replyError(
            sender,
            new PsError(
              PsErrorCode.RUN_MISMATCH,
              `${role} ${sender} registered again with the state of run ${resume.view.run}, but this scheduler runs ${this.runId}; restart the scheduler with recover and run ${resume.view.run} (pskv: PS_RECOVER=1 PS_RUN=${resume.view.run}), or restart the node to join this run as a new node`,
            ),
          );
          return;
        }
      }
    }
    if (this.recovery) {
      if (!resume) {
        // A node new to the run: it joins once the cluster has been rebuilt.
        if (this.heldRegistrations.length < 4096) this.heldRegistrations.push(msg);
        return;
      }
      this.onRecoveryRegister(msg, role, token, resume);
      return;
    }
    if (existing) {
      // A repeated registration (the node reconnected): answer with the current view. A node
      // declared dead stays out: its ranges have moved on; it must restart with a new id. Another
      // node under a live node's id (not holding its registration token) is refused.
      const view = this.views.value;
      if (!existing.dead && !existing.left && existing.token !== undefined && token !== existing.token) {
        this.replyError(
          sender,
          new PsError(
            PsErrorCode.DUPLICATE_ID,
            `a second registration under the id ${sender}, which a live ${existing.role} holds, was refused; give every node a unique id`,
          ),
        );
        return;
      }
      if (existing.dead || existing.left) {
        this.replyError(
          sender,
          new PsError(
            PsErrorCode.NODE_DEAD,
            `node ${sender} was declared dead or left; restart it (it rejoins with a new id)`,
          ),
        );
      } else if (view) {
        this.sendTo(sender, 'cluster', viewToWire(view));
        // The link was lost (a reset): what it may have dropped is answered again.
        if (resume) this.resumeNode(existing, resume);
      }
      return;
    }
    if (resume) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.NODE_DEAD,
          `${role} ${sender} registered again with the state of run ${resume.view.run}, but this scheduler does not know it (it came back after the recovery window closed); restart it: it joins as a new node`,
        ),
      );
      return;
    }
    const started = this.views.value !== undefined;
    const want = role === 'server' ? this.opts.numServers : this.opts.numWorkers;
    const have = [...this.members.values()].filter((m) => m.role === role).length;
    if (!started && have >= want) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.CLUSTER_FULL,
          `the cluster already has its ${want} ${role}s; check PS_NUM_SERVERS / PS_NUM_WORKERS`,
        ),
      );
      return;
    }
    if (!this.filtersMatch(sender, role, body)) return;
    const host = typeof body.host === 'string' ? body.host : '';
    const port = Number.isInteger(body.port) ? (body.port as number) : 0;
    const rank = this.nextRank[role]++;
    this.members.set(sender, {
      id: sender,
      role,
      rank,
      host,
      port,
      lastSeen: Date.now(),
      token,
      dead: false,
      lostAt: 0,
    });
    if (!started) {
      this.log.info(`registered ${role} ${sender} as rank ${rank}`);
      if (this.members.size === this.opts.numServers + this.opts.numWorkers) this.startCluster();
      else for (const m of this.members.values()) this.sendTo(m.id, 'heartbeat', this.fillBody());
      return;
    }
    this.log.info(`${role} ${sender} joins the running cluster as rank ${rank}`);
    this.epoch++;
    this.publish();
    if (role === 'server') {
      this.changes.push({ kind: 'join', id: sender });
      this.nextChange();
    }
  }

  /** Checks a registering node's filter chain against the cluster's (the first one sets it). */
  private filtersMatch(sender: NodeId, role: NodeInfo['role'], body: unknown): boolean {
    const filters =
      typeof (body as { filters?: unknown }).filters === 'string'
        ? (body as { filters: string }).filters
        : '';
    if (this.filterChain === undefined) this.filterChain = filters;
    else if (filters !== this.filterChain) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.FILTER_MISMATCH,
          `${role} ${sender} uses the filters '${filters || '(none)'}' but the cluster uses '${this.filterChain || '(none)'}'; give every server and worker the same filters, with the same parameters, in the same order`,
        ),
      );
      return false;
    }
    return true;
  }

  /** A node registers again with its state while this (restarted) scheduler recovers. */
  private onRecoveryRegister(
    msg: Message,
    role: NodeInfo['role'],
    token: string | undefined,
    resume: ResumeState,
  ): void {
    const rec = this.recovery!;
    const { sender } = msg.meta;
    const me = SchedulerRecovery.self(sender, resume.view);
    if (!me || me.role !== role || resume.view.dead.includes(sender)) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.NODE_DEAD,
          `${role} ${sender} is not a live ${role} of the view it reports (version ${resume.view.version}); restart it: it joins as a new node`,
        ),
      );
      return;
    }
    const existing = this.members.get(sender);
    if (existing && existing.token !== undefined && existing.token !== token) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.DUPLICATE_ID,
          `a second registration under the id ${sender}, which a recovering ${existing.role} holds, was refused; give every node a unique id`,
        ),
      );
      return;
    }
    if (!this.filtersMatch(sender, role, msg.meta.body)) return;
    const body = msg.meta.body as Partial<NodeInfo>;
    this.members.set(sender, {
      id: sender,
      role,
      rank: me.rank,
      host: typeof body.host === 'string' ? body.host : me.host,
      port: Number.isInteger(body.port) ? (body.port as number) : me.port,
      lastSeen: Date.now(),
      token,
      dead: false,
      lostAt: 0,
    });
    rec.add(sender, role, resume);
    this.resumeNode(this.members.get(sender)!, resume);
    const awaited = rec.awaited();
    this.log.info(
      `${role} ${sender} (rank ${me.rank}) registered again (it saw view ${resume.view.version}, epoch ${resume.view.epoch}); ${awaited.length} more awaited`,
    );
    if (awaited.length === 0) this.finishRecovery('every node of the last view is back');
  }

  /** Re-enters the barriers a node still waits in, and notes a worker that is done. */
  private resumeNode(m: Member, state: ResumeState): void {
    for (const p of state.pending) this.onBarrier(m.id, p);
    if (state.done && m.role === 'worker' && !this.done.has(m.id)) {
      this.done.add(m.id);
      this.maybeFinish();
    }
  }

  /**
   * Ends the recovery phase: rebuilds membership, the ring the servers reported, the epoch and the
   * barriers from the nodes' states, declares dead those that did not come back, publishes the
   * view, then takes the registrations held meanwhile.
   */
  private finishRecovery(why: string): void {
    const rec = this.recovery;
    if (!rec || this.closing) return;
    this.recovery = undefined;
    clearTimeout(this.recoveryTimer);
    const plan = rec.plan();
    if (!plan) {
      this.log.info(`recovery over (${why}): no node reported a state; the cluster starts afresh`);
    } else {
      for (const n of plan.members) {
        if (this.members.has(n.id)) continue;
        const { dead: _, ...info } = n;
        this.members.set(n.id, { ...info, lastSeen: 0, token: undefined, dead: true, lostAt: 0 });
        if (plan.missing.includes(n.id))
          this.log.warn(`${n.role} ${n.id} (rank ${n.rank}) did not register again in time: declared dead`);
      }
      this.epoch = Math.max(this.epoch, plan.epoch) + 1;
      this.versionFloor = plan.version;
      this.replicas = plan.replicas;
      let ring = plan.ring;
      for (const m of this.members.values()) {
        if (m.role !== 'server' || !ring.has(m.id) || !m.dead) continue;
        if (ring.size === 1) this.log.error(`the last server ${m.id} did not come back: its ranges are lost`);
        else ring = ring.withoutServer(m.id);
      }
      this.ring = ring;
      for (const role of ['server', 'worker'] as const) {
        const ranks = [...this.members.values()].filter((m) => m.role === role).map((m) => m.rank);
        this.nextRank[role] = Math.max(this.nextRank[role], ...ranks.map((r) => r + 1));
      }
      for (const g of ['servers', 'workers', 'all'] as const)
        this.released[g] = Math.max(this.released[g], plan.released[g]);
      // A server that was joining when the scheduler died: its move starts over.
      for (const m of this.live('server')) if (!ring.has(m.id)) this.changes.push({ kind: 'join', id: m.id });
      this.log.info(
        `recovery over (${why}): run ${this.runId}, epoch ${this.epoch}, ring ${ring.version} (${ring.size} servers), ${this.live().length} nodes back, ${plan.missing.length} declared dead`,
      );
      this.publish();
      this.releaseBarriers();
      this.nextChange();
      this.maybeFinish();
    }
    for (const m of this.heldRegistrations.splice(0)) this.onRegister(m);
  }

  /**
   * Until the cluster starts, a heartbeat's body: how many nodes of each role have registered, so
   * a node whose start times out can name the missing ones ({@link ClusterFill}).
   */
  private fillBody(): { fill: ClusterFill } | undefined {
    if (this.views.value !== undefined || this.recovery) return undefined;
    const count = (role: 'server' | 'worker') =>
      [...this.members.values()].filter((m) => m.role === role).length;
    return {
      fill: {
        servers: count('server'),
        numServers: this.opts.numServers,
        workers: count('worker'),
        numWorkers: this.opts.numWorkers,
      },
    };
  }

  /** Every expected node registered: build the first ring and publish the first view. */
  private startCluster(): void {
    const servers = this.live('server').map((m) => m.id);
    this.replicas = Math.min(this.opts.replicas ?? 0, servers.length - 1);
    this.ring = Ring.create(servers, {
      virtualNodes: this.opts.virtualNodes ?? DEFAULT_VIRTUAL_NODES,
      version: 1,
    });
    this.publish();
  }

  private publish(): void {
    const ring = this.ring;
    if (!ring) return;
    const byRank = (a: NodeInfo, b: NodeInfo) => a.rank - b.rank;
    const strip = ({ id, role, rank, host, port }: Member): NodeInfo => ({ id, role, rank, host, port });
    const listed = [...this.members.values()].filter((m) => !m.left);
    const servers = listed.filter((m) => m.role === 'server').sort(byRank);
    const workers = listed.filter((m) => m.role === 'worker').sort(byRank);
    const prev = this.views.value;
    const view: ClusterView = {
      version: Math.max(prev?.version ?? 0, this.versionFloor) + 1,
      epoch: this.epoch,
      run: this.runId,
      leaseMs: this.leaseMs,
      servers: servers.map(strip),
      workers: workers.map(strip),
      ring,
      replicas: Math.max(0, Math.min(this.replicas, ring.size - 1)),
      dead: listed.filter((m) => m.dead).map((m) => m.id),
      ...(this.opts.sync ? { sync: true } : {}),
    };
    this.views.next(view);
    const wire = viewToWire(view);
    for (const m of this.live()) this.sendTo(m.id, 'cluster', wire);
    this.progress.onView(view);
    this.log.info(
      `cluster view ${view.version} (ring ${ring.version}): ${ring.size} servers on the ring, ${workers.length} workers, ${view.dead.length} dead`,
    );
  }

  /** Starts the next queued ring change unless one is running. */
  private nextChange(): void {
    const ring = this.ring;
    if (this.migration || !ring || this.closing) return;
    for (;;) {
      const change = this.changes.shift();
      if (!change) return;
      const m = this.members.get(change.id);
      if (!m || m.dead || m.left) continue;
      if (change.kind === 'join' && ring.has(change.id)) continue;
      if (change.kind === 'leave' && !ring.has(change.id)) continue;
      if (change.kind === 'leave' && ring.size === 1) {
        this.log.warn(`server ${change.id} is the last one on the ring and cannot leave`);
        continue;
      }
      const target = change.kind === 'join' ? ring.withServer(change.id) : ring.withoutServer(change.id);
      const moves = movedRanges(ring, target);
      const bySource = new Map<NodeId, { to: NodeId; ranges: [string, string][] }[]>();
      for (const mv of moves) {
        let list = bySource.get(mv.from);
        if (!list) {
          list = [];
          bySource.set(mv.from, list);
        }
        let entry = list.find((e) => e.to === mv.to);
        if (!entry) {
          entry = { to: mv.to, ranges: [] };
          list.push(entry);
        }
        entry.ranges.push([mv.begin.toString(), mv.end.toString()]);
      }
      const timeoutMs = this.opts.migrateTimeoutMs ?? 120_000;
      this.migration = {
        change,
        target,
        waiting: new Set(bySource.keys()),
        startedAt: Date.now(),
        timer: setTimeout(() => this.abortMigration(`not done within ${timeoutMs} ms`), timeoutMs),
      };
      this.migration.timer.unref?.();
      this.log.info(
        `${change.kind} of server ${change.id}: ${moves.length} ranges move from ${bySource.size} servers (ring ${target.version})`,
      );
      for (const [source, list] of bySource) {
        this.sendTo(source, 'migrate', { version: target.version, ring: target.toWire(), moves: list });
      }
      if (bySource.size === 0) this.finishMigration();
      return;
    }
  }

  private onMigrateDone(sender: NodeId, body: unknown): void {
    const mig = this.migration;
    const { version, error } = (body ?? {}) as { version?: number; error?: string };
    if (!mig || version !== mig.target.version || !mig.waiting.has(sender)) return;
    if (typeof error === 'string') {
      this.abortMigration(`server ${sender} could not copy its ranges: ${error}`);
      return;
    }
    mig.waiting.delete(sender);
    if (mig.waiting.size === 0) this.finishMigration();
  }

  /** Every source copied its ranges: publish the new ring (the flip). */
  private finishMigration(): void {
    const mig = this.migration;
    if (!mig) return;
    clearTimeout(mig.timer);
    this.migration = undefined;
    // Servers that died meanwhile are not on the target ring either.
    let ring = mig.target;
    for (const m of this.members.values())
      if (m.role === 'server' && m.dead && ring.has(m.id)) ring = ring.withoutServer(m.id);
    this.ring = ring;
    this.log.info(
      `${mig.change.kind} of server ${mig.change.id} done in ${Date.now() - mig.startedAt} ms; ring ${ring.version}`,
    );
    this.publish();
    if (mig.change.kind === 'leave') {
      const m = this.members.get(mig.change.id);
      // Requests already on their way to the leaving server are answered (redirected) before it goes.
      const leaving = mig.change.id;
      setTimeout(() => {
        if (m) m.left = true;
        this.epoch++;
        this.sendTo(leaving, 'terminate');
        this.publish();
        this.releaseBarriers();
      }, 500).unref?.();
    }
    this.nextChange();
  }

  private abortMigration(why: string, retry = false): void {
    const mig = this.migration;
    if (!mig) return;
    clearTimeout(mig.timer);
    this.migration = undefined;
    this.log.warn(`${mig.change.kind} of server ${mig.change.id} abandoned: ${why}`);
    const m = this.members.get(mig.change.id);
    // Try again once the cluster settled (a dead source has been replaced by its replica).
    if (retry && m && !m.dead && !m.left) this.changes.push(mig.change);
    // The sources stop forwarding when they see a ring that does not match their move.
    this.publish();
    setTimeout(() => this.nextChange(), 200).unref?.();
  }

  private onBarrier(sender: NodeId, body: unknown): void {
    const { group, seq } = (body ?? {}) as { group?: BarrierGroup; seq?: number };
    if (group !== 'servers' && group !== 'workers' && group !== 'all') {
      this.replyError(
        sender,
        new PsError(PsErrorCode.MESSAGE_INVALID, `barrier: unknown group ${String(group)}`),
      );
      return;
    }
    const key = `${group}:${seq}`;
    let arrived = this.barriers.get(key);
    if (!arrived) {
      arrived = new Set();
      this.barriers.set(key, arrived);
    }
    arrived.add(sender);
    this.releaseBarriers();
  }

  private groupMembers(group: BarrierGroup): Member[] {
    return group === 'all' ? this.live() : this.live(group === 'servers' ? 'server' : 'worker');
  }

  private releaseBarriers(): void {
    if (!this.views.value) return;
    for (const [key, arrived] of this.barriers) {
      const group = key.slice(0, key.indexOf(':')) as BarrierGroup;
      const members = this.groupMembers(group);
      const seq = Number(key.slice(key.indexOf(':') + 1));
      if (seq <= this.released[group]) {
        // Released already (a node re-entered it after a lost link, or a restart): answer again.
        this.barriers.delete(key);
        for (const id of arrived) this.sendTo(id, 'barrier-done', { group, seq });
      } else if (members.every((m) => arrived.has(m.id))) {
        this.barriers.delete(key);
        this.released[group] = Math.max(this.released[group], seq);
        for (const m of members) this.sendTo(m.id, 'barrier-done', { group, seq });
      }
    }
  }

  private checkHeartbeats(): void {
    if (this.closing) return;
    const now = Date.now();
    const grace = this.heartbeatTimeoutMs / 4;
    const died: Member[] = [];
    for (const m of this.members.values()) {
      if (m.dead || m.left) continue;
      const silent = now - m.lastSeen > this.heartbeatTimeoutMs;
      // Never within the lease: a server serves for leaseMs after a beat this scheduler answered.
      // Not for a node that reconnected lately either (its link flaps: resets, not a dead process).
      const flapping = now - (m.reconnectedAt ?? 0) < this.heartbeatTimeoutMs;
      const lost = !flapping && m.lostAt > 0 && now - m.lostAt > grace && now - m.lastSeen > this.leaseMs;
      if (silent || lost) {
        m.dead = true;
        died.push(m);
        this.log.warn(
          `${m.role} ${m.id} (rank ${m.rank}) ${lost ? `lost its connection ${now - m.lostAt} ms ago` : `missed heartbeats for ${now - m.lastSeen} ms`}: declared dead`,
        );
      }
    }
    if (died.length === 0) return;
    this.epoch++;
    if (!this.views.value) return;
    for (const m of died) {
      if (m.role === 'server' && this.ring?.has(m.id)) {
        if (this.ring.size === 1) {
          this.log.error(`the last server ${m.id} died: its ranges are lost`);
          continue;
        }
        this.ring = this.ring.withoutServer(m.id);
      }
    }
    const mig = this.migration;
    if (mig && died.some((m) => m.id === mig.change.id || mig.waiting.has(m.id))) {
      this.abortMigration('a server of the move died', true);
    } else this.publish();
    this.releaseBarriers();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.opts.terminateWhenWorkersDone === false || !this.views.value) return;
    const workers = this.live('worker');
    if (workers.length === 0 || workers.every((w) => this.done.has(w.id))) void this.shutdown();
  }

  private sendTo(
    to: NodeId,
    cmd: 'cluster' | 'heartbeat' | 'barrier-done' | 'terminate' | 'migrate' | 'progress-clock',
    body?: unknown,
  ): Promise<void> {
    return this.sendCommand(to, cmd, body).catch((err: unknown) =>
      this.log.warn(`could not send ${cmd} to ${to}: ${(err as Error).message}`),
    );
  }

  /** Sends a command to a node; rejects when it cannot be sent. */
  private sendCommand(
    to: NodeId,
    cmd: 'cluster' | 'heartbeat' | 'barrier-done' | 'terminate' | 'migrate' | 'task' | 'progress-clock',
    body?: unknown,
  ): Promise<void> {
    return this.ep.send(to, { app: 0, ts: 0, request: false, push: false, pull: false, cmd, body });
  }

  private readonly warnedImpostors = new Set<NodeId>();

  /** A heartbeat under a live node's id without its token: logged once per id, otherwise ignored. */
  private warnImpostor(m: Member): void {
    if (this.warnedImpostors.has(m.id)) return;
    this.warnedImpostors.add(m.id);
    this.log.warn(
      new PsError(
        PsErrorCode.DUPLICATE_ID,
        `heartbeats under the id of ${m.role} ${m.id} without its registration token are ignored (another node uses its id)`,
      ).message,
    );
  }

  /** Tells a node declared dead that it is (it stops, or rejoins under a new id). */
  private fence(m: Member): void {
    const err = new PsError(
      PsErrorCode.FENCED,
      `${m.role} ${m.id} was declared dead by the scheduler (silent past the heartbeat timeout of ${this.heartbeatTimeoutMs} ms) and the cluster moved on without it; it stops serving: restart it and it joins as a new node`,
    );
    void this.ep
      .send(m.id, {
        app: 0,
        ts: 0,
        request: false,
        push: false,
        pull: false,
        cmd: 'heartbeat',
        error: err.toWire(),
      })
      .catch(() => undefined);
  }

  private replyError(to: NodeId, err: PsError): void {
    this.log.warn(err.message);
    void this.ep
      .send(to, {
        app: 0,
        ts: 0,
        request: false,
        push: false,
        pull: false,
        cmd: 'cluster',
        error: err.toWire(),
      })
      .catch(() => undefined);
  }

  /**
   * Tells every live node to terminate, then closes. Idempotent; resolves once closed.
   * Nodes drop their connections and resolve their own `terminated`.
   */
  async shutdown(): Promise<void> {
    if (this.closing) return this.terminated;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    if (this.migration) clearTimeout(this.migration.timer);
    clearTimeout(this.recoveryTimer);
    this.log.info('shutting the cluster down');
    await Promise.all(this.live().map((m) => this.sendTo(m.id, 'terminate')));
    // Give nodes a moment to read the terminate before the connections go.
    await new Promise((r) => setTimeout(r, 50));
    this.sub.unsubscribe();
    await this.ep.close();
    this.views.complete();
    this.resolveTerminated();
  }
}
