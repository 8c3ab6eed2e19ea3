import { encode } from '@msgpack/msgpack';
import type { Observable } from 'rxjs';
import {
  type GraphTask,
  type NodeTaskState,
  TaskGraph,
  type TaskGraphEvent,
  type TaskId,
  type TaskResults,
  type TaskState,
} from '../consistency/task-graph.js';
import { PsError, PsErrorCode } from '../errors.js';
import type { TransportEvent } from '../net/transport.js';
import type { NodeId } from '../wire/message.js';
import type { ClusterView } from './cluster-view.js';

/** What {@link TaskIssuer.issue} takes. */
export interface TaskSpec {
  /** The executor's name, as the nodes registered it with `node.tasks.handle` (1 to 256 characters). */
  name: string;
  /** The app the task belongs to (default 0); deps may name tasks of any app. */
  app?: number;
  /**
   * Where it runs: every live worker, every live server (both as of the call), or the nodes
   * named (each must be a live member of the cluster).
   */
  to: 'workers' | 'servers' | readonly NodeId[];
  /** Tasks (ids from `issue`, of any app) that must have finished on all their nodes first. */
  deps?: readonly TaskId[];
  /** The executor's argument: small and msgpack-encodable (default `null`). */
  args?: unknown;
}

/** Options of the scheduler's task issuer (`SchedulerOptions.tasks`). */
export interface TaskIssuerOptions {
  /** Unfinished tasks one node may hold (`PS_ERR_TASK_LIMIT` beyond). Default 1,024. */
  maxPendingPerNode?: number;
  /** Settled tasks whose results `wait` can still read. Default 10,000. */
  maxSettled?: number;
}

/**
 * What the scheduler gives its issuer: the current view, a way to send a `task` command, and the
 * transport's link events (a node that reconnects gets its unfinished tasks again).
 */
export interface TaskIssuerLink {
  view: () => ClusterView | undefined;
  send: (to: NodeId, body: WireTask) => Promise<void>;
  links$?: Observable<TransportEvent>;
}

/** The body of a `task` command (scheduler to node). */
export interface WireTask {
  /** The graph's incarnation (a scheduler restarted with `recover` counts ids from 1 again). */
  graph: string;
  id: TaskId;
  name: string;
  app: number;
  args: unknown;
}

/** The body of a `task-state` command (node to scheduler). */
export interface WireTaskState {
  /** The incarnation of the graph the task came from (see {@link WireTask}). */
  graph: string;
  id: TaskId;
  state: 'started' | 'finished' | 'failed';
  result?: unknown;
  error?: { code: string; message: string };
}

/**
 * The scheduler's side of tasks across nodes (`scheduler.tasks`; the shape of the paper's
 * Algorithm 1): it issues named tasks to workers or servers, sends each only once every task it
 * depends on finished on all its nodes, gathers the per-node results, and fails a task whose node
 * dies while it holds it (`PS_ERR_NODE_DEAD`; the task is not reissued: issue it again to the
 * live nodes if the job can go on without that node).
 *
 * Task ids are the scheduler's, global across apps, so a task of one app can wait for another's.
 * A node whose link to the scheduler comes back gets its unfinished tasks again: it runs each id
 * once and answers a repeat of a finished one with its result, so a task or a report lost with a
 * connection reset is recovered.
 * The graph lives in the scheduler's memory: a scheduler restarted with `recover` starts a new one.
 */
export class TaskIssuer {
  private readonly graph: TaskGraph;
  /** This graph's incarnation: reports of tasks of an earlier scheduler's graph are ignored. */
  private readonly incarnation = globalThis.crypto.randomUUID().slice(0, 8);
  /** Changes of the task graph (issued, sent, started, finished, failed, done); read-only. */
  readonly events$: Observable<TaskGraphEvent>;

  /** @internal Made by the `Scheduler` (`scheduler.tasks`). */
  constructor(
    private readonly link: TaskIssuerLink,
    cluster$: Observable<ClusterView | undefined>,
    opts: TaskIssuerOptions = {},
  ) {
    this.graph = new TaskGraph({ ...opts, release: (task, node) => this.send(task, node) });
    this.events$ = this.graph.events$;
    cluster$.subscribe({
      next: (view) => view && this.onView(view),
      complete: () =>
        this.graph.close(
          new PsError(PsErrorCode.SHUTDOWN, 'the scheduler shut down before the task settled'),
        ),
    });
    link.links$?.subscribe((ev) => {
      if (ev.type !== 'connected') return;
      for (const task of this.graph.heldBy(ev.peer)) this.send(task, ev.peer);
    });
  }

  /**
   * Issues a task and returns its id at once; it is sent once its deps finished.
   * @throws PsError `PS_ERR_PROTOCOL` before the cluster started; `PS_ERR_CONFIG` for a bad
   *   name, app, target (no live node, or a node that is not a live member) or args that msgpack
   *   cannot encode; `PS_ERR_UNKNOWN_TASK` for a dep never issued; `PS_ERR_TASK_LIMIT`.
   */
  issue(spec: TaskSpec): TaskId {
    const view = this.link.view();
    if (!view)
      throw new PsError(
        PsErrorCode.PROTOCOL,
        'the cluster has not started: issue tasks once scheduler.cluster$ holds a view',
      );
    const { name, app = 0, args = null, deps = [] } = spec;
    if (typeof name !== 'string' || name.length < 1 || name.length > 256)
      throw new PsError(
        PsErrorCode.CONFIG,
        `task name must be a string of 1 to 256 characters, got ${String(name)}`,
      );
    if (!Number.isInteger(app) || app < 0)
      throw new PsError(PsErrorCode.CONFIG, `task app must be a non-negative integer, got ${String(app)}`);
    if (!Array.isArray(deps)) throw new PsError(PsErrorCode.CONFIG, 'task deps must be an array of task ids');
    try {
      encode(args);
    } catch (err) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `task args cannot be encoded with msgpack (${(err as Error).message}); pass plain data`,
      );
    }
    const nodes = targets(view, spec.to);
    return this.graph.add({ name, app, nodes, deps, args });
  }

  /**
   * Resolves with each node's result (by node id) once task `id` finished on all its nodes.
   * @throws PsError (rejects) what the task failed with: the executor's `PsError`,
   *   `PS_ERR_TASK_FAILED` (a non-`PsError` throw, or a dep failed), `PS_ERR_NO_EXECUTOR`,
   *   `PS_ERR_NODE_DEAD`, `PS_ERR_SHUTDOWN`; `PS_ERR_UNKNOWN_TASK` for an id never issued.
   */
  wait(id: TaskId): Promise<TaskResults> {
    return this.graph.wait(id);
  }

  /** Where task `id` stands, overall and per node (undefined: never issued, or forgotten). */
  state(id: TaskId): { state: TaskState; nodes: Record<NodeId, NodeTaskState> } | undefined {
    return this.graph.state(id);
  }

  /** A node's `task-state` report (routed here by the scheduler). */
  onTaskState(from: NodeId, body: unknown): void {
    const b = (body ?? {}) as Partial<WireTaskState>;
    if (!Number.isInteger(b.id) || b.graph !== this.incarnation) return;
    const id = b.id as TaskId;
    if (b.state === 'started') this.graph.started(id, from);
    else if (b.state === 'finished') this.graph.finished(id, from, b.result ?? null);
    else if (b.state === 'failed') {
      const err = PsError.fromWire(b.error);
      this.graph.failed(
        id,
        from,
        new PsError(
          err.code,
          `task ${id} (${this.graph.task(id)?.name}) failed on ${from}: ${err.message.slice(err.code.length + 2)}`,
        ),
      );
    }
  }

  private send(task: GraphTask, node: NodeId): void {
    const { id, name, app, args } = task;
    this.link.send(node, { graph: this.incarnation, id, name, app, args }).catch((err: unknown) => {
      this.graph.failed(
        id,
        node,
        new PsError(
          PsErrorCode.PEER_UNREACHABLE,
          `task ${id} (${name}) could not be sent to ${node}: ${(err as Error).message}`,
        ),
      );
    });
  }

  /** A node the view lists as dead, or no longer lists (it left), fails the tasks it holds. */
  private onView(view: ClusterView): void {
    const listed = new Set([...view.servers, ...view.workers].map((n) => n.id));
    const gone = new Set(view.dead);
    for (const id of this.graph.unsettled()) {
      for (const node of this.graph.task(id)?.nodes ?? []) if (!listed.has(node)) gone.add(node);
    }
    for (const node of gone) {
      this.graph.nodeGone(
        node,
        new PsError(
          PsErrorCode.NODE_DEAD,
          `node ${node} died or left while it held the task (view ${view.version}); the task is not reissued: issue it again to the live nodes`,
          { node },
        ),
      );
    }
  }
}

function targets(view: ClusterView, to: TaskSpec['to']): NodeId[] {
  const live = (list: ClusterView['workers']) =>
    list.filter((n) => !view.dead.includes(n.id)).map((n) => n.id);
  if (to === 'workers' || to === 'servers') {
    const nodes = live(to === 'workers' ? view.workers : view.servers);
    if (nodes.length === 0)
      throw new PsError(PsErrorCode.CONFIG, `no live ${to} to issue the task to (view ${view.version})`);
    return nodes;
  }
  if (!Array.isArray(to) || to.length === 0)
    throw new PsError(
      PsErrorCode.CONFIG,
      "task to must be 'workers', 'servers' or a non-empty list of node ids",
    );
  const members = new Set([...live(view.workers), ...live(view.servers)]);
  const unknown = to.filter((n) => !members.has(n));
  if (unknown.length > 0)
    throw new PsError(
      PsErrorCode.CONFIG,
      `task to names ${unknown.join(', ')}, not live members of the cluster (view ${view.version}); name ids from scheduler.cluster$`,
    );
  return [...new Set(to)];
}
