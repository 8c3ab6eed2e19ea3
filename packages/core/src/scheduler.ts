import { BehaviorSubject, type Subscription } from 'rxjs';
import { type ClusterView, type NodeInfo, viewToWire } from './cluster-view.js';
import { PsError, PsErrorCode } from './errors.js';
import { Endpoint, type TrafficStats } from './internal/endpoint.js';
import { consoleLogger, type Logger, logLevelFromEnv } from './internal/logger.js';
import { evenKeyRanges } from './key-range.js';
import { type Message, type NodeAddress, type NodeId, SCHEDULER_ID } from './message.js';
import type { Transport } from './transport.js';

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
  /** A node silent for this long (ms) is declared dead. Default 10,000. */
  heartbeatTimeoutMs?: number;
  /** Shut the whole cluster down once every live worker called `finalize()`. Default true. */
  terminateWhenWorkersDone?: boolean;
  logger?: Logger;
  maxFrameBytes?: number;
}

interface Member extends NodeInfo {
  lastSeen: number;
  dead: boolean;
}

/**
 * The scheduler (the paper's server manager): registers nodes and gives them ranks, assigns key
 * ranges (even ranges of the 64-bit space, ps-lite style), runs barriers, watches heartbeats,
 * and shuts the cluster down in order. It holds no parameters.
 */
export class Scheduler {
  /** The current cluster view, `undefined` until every expected node registered. */
  readonly cluster$ = new BehaviorSubject<ClusterView | undefined>(undefined);
  /** Resolves when the scheduler has told every node to terminate and closed its transport. */
  readonly terminated: Promise<void>;

  private readonly members = new Map<NodeId, Member>();
  private readonly barriers = new Map<string, Set<NodeId>>();
  private readonly done = new Set<NodeId>();
  /** The filter chain signature of the first node that registered; every other must match. */
  private filterChain: string | undefined;
  private readonly heartbeatTimeoutMs: number;
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
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 10_000;
    this.terminated = new Promise((r) => {
      this.resolveTerminated = r;
    });
    this.sub = ep.messages$.subscribe((m) => this.onMessage(m));
    this.timer = setInterval(() => this.checkHeartbeats(), Math.max(50, this.heartbeatTimeoutMs / 4));
    this.timer.unref?.();
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
    const log = opts.logger ?? consoleLogger('ps-scheduler', logLevelFromEnv());
    const ep = new Endpoint(opts.transport, () => SCHEDULER_ID, log, opts.maxFrameBytes);
    const address = await opts.transport.bind({
      id: SCHEDULER_ID,
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
    });
    log.info(
      `listening on ${address.host}:${address.port}, waiting for ${opts.numServers} servers and ${opts.numWorkers} workers`,
    );
    return new Scheduler(ep, address, opts, log);
  }

  /** Traffic through the scheduler. */
  get stats(): TrafficStats {
    return this.ep.stats;
  }

  private live(role?: NodeInfo['role']): Member[] {
    return [...this.members.values()].filter((m) => !m.dead && (role === undefined || m.role === role));
  }

  private onMessage(msg: Message): void {
    const { sender, cmd } = msg.meta;
    const member = this.members.get(sender);
    if (member) member.lastSeen = Date.now();
    if (cmd === 'register') {
      this.onRegister(msg);
      return;
    }
    if (!member) {
      this.log.warn(
        new PsError(PsErrorCode.UNKNOWN_PEER, `message from unregistered node ${sender} ignored`).message,
      );
      return;
    }
    switch (cmd) {
      case 'heartbeat':
        this.sendTo(sender, 'heartbeat');
        return;
      case 'barrier':
        this.onBarrier(sender, msg.meta.body);
        return;
      case 'worker-done':
        this.done.add(sender);
        this.log.info(`worker ${sender} done (${this.done.size}/${this.opts.numWorkers})`);
        this.maybeFinish();
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
    if (existing) {
      // A repeated registration (the node reconnected): answer with the current view.
      existing.dead = false;
      const view = this.cluster$.value;
      if (view) this.sendTo(sender, 'cluster', viewToWire(view));
      return;
    }
    const want = role === 'server' ? this.opts.numServers : this.opts.numWorkers;
    const have = [...this.members.values()].filter((m) => m.role === role).length;
    if (have >= want) {
      this.replyError(
        sender,
        new PsError(
          PsErrorCode.CLUSTER_FULL,
          `the cluster already has its ${want} ${role}s; check PS_NUM_SERVERS / PS_NUM_WORKERS`,
        ),
      );
      return;
    }
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
      return;
    }
    const host = typeof body.host === 'string' ? body.host : '';
    const port = Number.isInteger(body.port) ? (body.port as number) : 0;
    this.members.set(sender, { id: sender, role, rank: have, host, port, lastSeen: Date.now(), dead: false });
    this.log.info(`registered ${role} ${sender} as rank ${have}`);
    if (this.members.size === this.opts.numServers + this.opts.numWorkers) this.publish();
  }

  private publish(): void {
    const byRank = (a: NodeInfo, b: NodeInfo) => a.rank - b.rank;
    const strip = ({ id, role, rank, host, port }: Member): NodeInfo => ({ id, role, rank, host, port });
    const servers = [...this.members.values()].filter((m) => m.role === 'server').sort(byRank);
    const workers = [...this.members.values()].filter((m) => m.role === 'worker').sort(byRank);
    const prev = this.cluster$.value;
    const view: ClusterView = {
      version: (prev?.version ?? 0) + 1,
      servers: servers.map(strip),
      workers: workers.map(strip),
      ranges: prev?.ranges ?? evenKeyRanges(servers.length),
      dead: [...this.members.values()].filter((m) => m.dead).map((m) => m.id),
    };
    this.cluster$.next(view);
    const wire = viewToWire(view);
    for (const m of this.live()) this.sendTo(m.id, 'cluster', wire);
    this.log.info(
      `cluster view ${view.version}: ${servers.length} servers, ${workers.length} workers, ${view.dead.length} dead`,
    );
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
    if (!this.cluster$.value) return;
    for (const [key, arrived] of this.barriers) {
      const group = key.slice(0, key.indexOf(':')) as BarrierGroup;
      const members = this.groupMembers(group);
      if (members.every((m) => arrived.has(m.id))) {
        this.barriers.delete(key);
        const seq = Number(key.slice(key.indexOf(':') + 1));
        for (const m of members) this.sendTo(m.id, 'barrier-done', { group, seq });
      }
    }
  }

  private checkHeartbeats(): void {
    if (this.closing) return;
    const now = Date.now();
    let changed = false;
    for (const m of this.members.values()) {
      if (!m.dead && now - m.lastSeen > this.heartbeatTimeoutMs) {
        m.dead = true;
        changed = true;
        this.log.warn(
          `${m.role} ${m.id} (rank ${m.rank}) missed heartbeats for ${now - m.lastSeen} ms: declared dead`,
        );
      }
    }
    if (changed && this.cluster$.value) {
      this.publish();
      this.releaseBarriers();
      this.maybeFinish();
    }
  }

  private maybeFinish(): void {
    if (this.opts.terminateWhenWorkersDone === false || !this.cluster$.value) return;
    const workers = this.live('worker');
    if (workers.length === 0 || workers.every((w) => this.done.has(w.id))) void this.shutdown();
  }

  private sendTo(
    to: NodeId,
    cmd: 'cluster' | 'heartbeat' | 'barrier-done' | 'terminate',
    body?: unknown,
  ): Promise<void> {
    return this.ep
      .send(to, { app: 0, ts: 0, request: false, push: false, pull: false, cmd, body })
      .catch((err: unknown) => this.log.warn(`could not send ${cmd} to ${to}: ${(err as Error).message}`));
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
    this.log.info('shutting the cluster down');
    await Promise.all(this.live().map((m) => this.sendTo(m.id, 'terminate')));
    // Give nodes a moment to read the terminate before the connections go.
    await new Promise((r) => setTimeout(r, 50));
    this.sub.unsubscribe();
    await this.ep.close();
    this.cluster$.complete();
    this.resolveTerminated();
  }
}
