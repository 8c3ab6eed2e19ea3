import { type Observable, Subject } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';

/** The id of a scheduler task: an integer from 1, global across apps (the scheduler's own count). */
export type TaskId = number;

/** A task as the graph holds it: what runs, where, and after what. */
export interface GraphTask {
  id: TaskId;
  /** The executor's name on the nodes (`node.tasks.handle(name, ...)`). */
  name: string;
  /** The app the task belongs to (a namespace for the application; tasks of any apps may depend on each other). */
  app: number;
  /** The nodes it runs on, fixed when it is issued. */
  nodes: readonly NodeId[];
  /** Tasks that must have finished on all their nodes before this one is sent. */
  deps: readonly TaskId[];
  /** The executor's argument (small and msgpack-encodable). */
  args: unknown;
}

/**
 * A change of the task graph, in the order it happened. Times are wall-clock milliseconds
 * (`Date.now()`), comparable with the nodes' own clocks on one machine.
 * - `issued`: the scheduler took the task (it waits for its deps);
 * - `sent`: its deps finished; it went to `node`;
 * - `started` / `finished` / `failed`: what `node` reported (`failed` without a node: a dep
 *   failed, or the task failed elsewhere before this node ran it);
 * - `done`: the task settled: `ok` when it finished on every node.
 */
export type TaskGraphEvent =
  | {
      type: 'issued';
      id: TaskId;
      name: string;
      app: number;
      nodes: readonly NodeId[];
      deps: readonly TaskId[];
      time: number;
    }
  | { type: 'sent'; id: TaskId; node: NodeId; time: number }
  | { type: 'started'; id: TaskId; node: NodeId; time: number }
  | { type: 'finished'; id: TaskId; node: NodeId; time: number }
  | { type: 'failed'; id: TaskId; node?: NodeId; time: number; error: { code: string; message: string } }
  | { type: 'done'; id: TaskId; ok: boolean; time: number };

/** Where a task stands on one node. */
export type NodeTaskState = 'waiting' | 'sent' | 'started' | 'finished' | 'failed';

/** Where a task stands: `waiting` for deps, `running` on its nodes, or settled. */
export type TaskState = 'waiting' | 'running' | 'finished' | 'failed';

/** The per-node results of a finished task, by node id. */
export type TaskResults = Record<NodeId, unknown>;

/** Options of a {@link TaskGraph}. */
export interface TaskGraphOptions {
  /** Unfinished tasks a node may hold at once (see `PS_ERR_TASK_LIMIT`). Default 1,024. */
  maxPendingPerNode?: number;
  /** Settled tasks whose results stay readable by `wait`; older ones are forgotten. Default 10,000. */
  maxSettled?: number;
  /** Called once per node when a task's deps have finished: send it there. */
  release: (task: GraphTask, node: NodeId) => void;
  /** The clock of the events (default `Date.now`). */
  now?: () => number;
}

interface Entry {
  task: GraphTask;
  state: TaskState;
  /** Deps not finished yet. */
  blockedBy: Set<TaskId>;
  /** Tasks that wait for this one. */
  dependents: TaskId[];
  perNode: Map<NodeId, NodeTaskState>;
  results: TaskResults;
  error: PsError | undefined;
  waiters: { resolve: (r: TaskResults) => void; reject: (e: PsError) => void }[];
}

/** Ids of forgotten failed tasks kept (a dep on one fails at once). */
const FORGOTTEN_FAILURES = 100_000;

const terminal = (s: NodeTaskState | undefined) => s === 'finished' || s === 'failed';

/**
 * The scheduler's task dependency graph (OSDI 2014, section 3.4): a task is released to its
 * nodes only once every task it depends on has finished on all of its nodes; a failed task
 * fails every task that depends on it. Pure bookkeeping: who sends and who reports is the
 * caller's (the scheduler's `TaskIssuer`). Bounded: at most `maxPendingPerNode` unfinished
 * tasks per node, and the results of the last `maxSettled` settled tasks.
 */
export class TaskGraph {
  private readonly subject = new Subject<TaskGraphEvent>();
  /** The graph's changes; read-only (the subject stays private). */
  readonly events$: Observable<TaskGraphEvent> = this.subject.asObservable();
  private readonly entries = new Map<TaskId, Entry>();
  private readonly settledOrder: TaskId[] = [];
  /** Settled tasks whose entries were forgotten and that failed (the others finished). */
  private readonly forgottenFailed = new Set<TaskId>();
  private readonly pending = new Map<NodeId, number>();
  private lastId = 0;
  private readonly maxPending: number;
  private readonly maxSettled: number;
  private readonly now: () => number;

  constructor(private readonly opts: TaskGraphOptions) {
    this.maxPending = opts.maxPendingPerNode ?? 1024;
    this.maxSettled = opts.maxSettled ?? 10_000;
    this.now = opts.now ?? Date.now;
    for (const [k, v] of [
      ['maxPendingPerNode', this.maxPending],
      ['maxSettled', this.maxSettled],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new PsError(PsErrorCode.CONFIG, `tasks.${k} must be a positive integer, got ${v}`);
    }
  }

  /** Unfinished tasks `node` holds (issued to it, neither finished nor failed there). */
  pendingOn(node: NodeId): number {
    return this.pending.get(node) ?? 0;
  }

  /**
   * Adds a task and returns its id; it is released at once when its deps have finished.
   * @throws PsError `PS_ERR_UNKNOWN_TASK` for a dep that was never issued, `PS_ERR_TASK_LIMIT`
   *   when a node would hold more than `maxPendingPerNode` unfinished tasks.
   */
  add(spec: Omit<GraphTask, 'id'>): TaskId {
    for (const d of spec.deps) {
      if (!Number.isInteger(d) || d < 1 || d > this.lastId)
        throw new PsError(
          PsErrorCode.UNKNOWN_TASK,
          `deps names task ${String(d)}, which this scheduler never issued (ids run from 1 to ${this.lastId}); name ids returned by tasks.issue`,
        );
    }
    for (const n of spec.nodes) {
      if (this.pendingOn(n) >= this.maxPending)
        throw new PsError(
          PsErrorCode.TASK_LIMIT,
          `node ${n} already holds ${this.pendingOn(n)} unfinished tasks (tasks.maxPendingPerNode ${this.maxPending}); await tasks.wait on earlier tasks before issuing more`,
          { node: n, limit: this.maxPending },
        );
    }
    const task: GraphTask = {
      ...spec,
      id: ++this.lastId,
      nodes: [...spec.nodes],
      deps: [...new Set(spec.deps)],
    };
    const e: Entry = {
      task,
      state: 'waiting',
      blockedBy: new Set(),
      dependents: [],
      perNode: new Map(task.nodes.map((n) => [n, 'waiting'])),
      results: {},
      error: undefined,
      waiters: [],
    };
    this.entries.set(task.id, e);
    for (const n of task.nodes) this.pending.set(n, this.pendingOn(n) + 1);
    const { id, name, app, nodes, deps } = task;
    this.emit({ type: 'issued', id, name, app, nodes, deps, time: this.now() });
    let failedDep: TaskId | undefined;
    for (const d of task.deps) {
      const dep = this.entries.get(d);
      const state = dep ? dep.state : this.forgottenFailed.has(d) ? 'failed' : 'finished';
      if (state === 'failed') failedDep ??= d;
      else if (state !== 'finished') {
        e.blockedBy.add(d);
        dep!.dependents.push(id);
      }
    }
    if (failedDep !== undefined) this.fail(e, undefined, depFailed(id, failedDep));
    else if (e.blockedBy.size === 0) this.release(e);
    return id;
  }

  /** Where task `id` stands, or undefined when it was never issued or has been forgotten. */
  state(id: TaskId): { state: TaskState; nodes: Record<NodeId, NodeTaskState> } | undefined {
    const e = this.entries.get(id);
    return e && { state: e.state, nodes: Object.fromEntries(e.perNode) };
  }

  /** The task as issued, while the graph holds it. */
  task(id: TaskId): GraphTask | undefined {
    return this.entries.get(id)?.task;
  }

  /** Unsettled tasks sent to `node` that it has not reported finished (to resend after a lost link). */
  heldBy(node: NodeId): GraphTask[] {
    return [...this.entries.values()]
      .filter((e) => !isSettled(e) && (e.perNode.get(node) === 'sent' || e.perNode.get(node) === 'started'))
      .map((e) => e.task);
  }

  /** Ids of the tasks not settled yet. */
  unsettled(): TaskId[] {
    return [...this.entries.values()].filter((e) => !isSettled(e)).map((e) => e.task.id);
  }

  /**
   * Resolves with the per-node results once task `id` finished on every node.
   * @throws PsError (rejects) the error the task failed with; `PS_ERR_UNKNOWN_TASK` for an id
   *   never issued or forgotten.
   */
  wait(id: TaskId): Promise<TaskResults> {
    const e = this.entries.get(id);
    if (!e) {
      const why =
        Number.isInteger(id) && id >= 1 && id <= this.lastId
          ? `task ${id} settled long ago and was forgotten (results are kept for the last ${this.maxSettled} settled tasks)`
          : `task ${String(id)} was never issued by this scheduler (ids run from 1 to ${this.lastId})`;
      return Promise.reject(
        new PsError(PsErrorCode.UNKNOWN_TASK, `${why}; wait on ids returned by tasks.issue`),
      );
    }
    if (e.state === 'finished') return Promise.resolve({ ...e.results });
    if (e.state === 'failed') return Promise.reject(e.error!);
    return new Promise((resolve, reject) => e.waiters.push({ resolve, reject }));
  }

  /** `node` reports that it started task `id` (ignored unless the task was sent there). */
  started(id: TaskId, node: NodeId): void {
    const e = this.entries.get(id);
    if (!e || isSettled(e) || e.perNode.get(node) !== 'sent') return;
    e.perNode.set(node, 'started');
    this.emit({ type: 'started', id, node, time: this.now() });
  }

  /** `node` finished task `id` with `result`; the task finishes once every node did. */
  finished(id: TaskId, node: NodeId, result: unknown): void {
    const e = this.entries.get(id);
    const s = e?.perNode.get(node);
    if (!e || isSettled(e) || (s !== 'sent' && s !== 'started')) return;
    e.perNode.set(node, 'finished');
    e.results[node] = result;
    this.unpend(node);
    this.emit({ type: 'finished', id, node, time: this.now() });
    if ([...e.perNode.values()].every((v) => v === 'finished')) this.settle(e, 'finished');
  }

  /** Task `id` failed on `node` with `error`: the task fails, and so do its dependents. */
  failed(id: TaskId, node: NodeId, error: PsError): void {
    const e = this.entries.get(id);
    if (!e || isSettled(e) || terminal(e.perNode.get(node)) || !e.perNode.has(node)) return;
    this.fail(e, node, error);
  }

  /** `node` died or left: every unsettled task it holds fails with `error`. */
  nodeGone(node: NodeId, error: PsError): void {
    for (const e of [...this.entries.values()]) {
      if (!isSettled(e) && e.perNode.has(node) && !terminal(e.perNode.get(node))) this.fail(e, node, error);
    }
  }

  /** Rejects every unsettled task with `error` (the scheduler shuts down) and completes `events$`. */
  close(error: PsError): void {
    for (const e of [...this.entries.values()]) if (!isSettled(e)) this.fail(e, undefined, error, false);
    this.subject.complete();
  }

  private release(e: Entry): void {
    e.state = 'running';
    for (const node of e.task.nodes) {
      e.perNode.set(node, 'sent');
      this.emit({ type: 'sent', id: e.task.id, node, time: this.now() });
      this.opts.release(e.task, node);
      if (isSettled(e)) return; // the send failed at once
    }
  }

  private fail(e: Entry, node: NodeId | undefined, error: PsError, cascade = true): void {
    const { id } = e.task;
    for (const [n, s] of e.perNode) {
      if (terminal(s)) continue;
      this.unpend(n);
      if (n === node) e.perNode.set(n, 'failed');
    }
    this.emit({
      type: 'failed',
      id,
      ...(node === undefined ? {} : { node }),
      time: this.now(),
      error: error.toWire(),
    });
    e.error = error;
    this.settle(e, 'failed');
    if (!cascade) return;
    for (const d of e.dependents) {
      const dep = this.entries.get(d);
      if (dep && !isSettled(dep)) this.fail(dep, undefined, depFailed(d, id));
    }
  }

  private settle(e: Entry, state: 'finished' | 'failed'): void {
    e.state = state;
    this.emit({ type: 'done', id: e.task.id, ok: state === 'finished', time: this.now() });
    for (const w of e.waiters.splice(0)) {
      if (state === 'finished') w.resolve({ ...e.results });
      else w.reject(e.error!);
    }
    if (state === 'finished') {
      for (const d of e.dependents) {
        const dep = this.entries.get(d);
        if (!dep || isSettled(dep)) continue;
        dep.blockedBy.delete(e.task.id);
        if (dep.blockedBy.size === 0 && dep.state === 'waiting') this.release(dep);
      }
    }
    this.settledOrder.push(e.task.id);
    while (this.settledOrder.length > this.maxSettled) {
      const old = this.settledOrder.shift()!;
      if (this.entries.get(old)?.state === 'failed') {
        this.forgottenFailed.add(old);
        // Bounded too: a dep on a failure older than this many failures counts as finished.
        if (this.forgottenFailed.size > FORGOTTEN_FAILURES)
          this.forgottenFailed.delete(this.forgottenFailed.values().next().value!);
      }
      this.entries.delete(old);
    }
  }

  private unpend(node: NodeId): void {
    const n = this.pendingOn(node) - 1;
    if (n > 0) this.pending.set(node, n);
    else this.pending.delete(node);
  }

  private emit(ev: TaskGraphEvent): void {
    this.subject.next(ev);
  }
}

function isSettled(e: Entry): boolean {
  return e.state === 'finished' || e.state === 'failed';
}

function depFailed(id: TaskId, dep: TaskId): PsError {
  return new PsError(
    PsErrorCode.TASK_FAILED,
    `task ${id} was not run: task ${dep}, which it depends on, failed; fix the cause and issue both again`,
    { dep },
  );
}
