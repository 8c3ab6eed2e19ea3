import { encode } from '@msgpack/msgpack';
import { PsError, PsErrorCode } from '../errors.js';
import type { Logger } from '../internal/logger.js';
import type { WireTask, WireTaskState } from '../membership/task-issuer.js';
import type { NodeId } from '../wire/message.js';
import type { TaskId } from './task-graph.js';

/** What an executor learns about the task it runs. */
export interface TaskContext {
  /** The scheduler's task id (global across apps). */
  id: TaskId;
  name: string;
  app: number;
  /** This node's id. */
  node: NodeId;
}

/**
 * Runs one named task on a node: `args` as the scheduler issued them; the value it returns (or
 * resolves to) goes back to the scheduler as this node's result, so it must be small and
 * msgpack-encodable. A throw fails the task: a `PsError` keeps its code, anything else becomes
 * `PS_ERR_TASK_FAILED`.
 */
export type TaskExecutor = (args: unknown, task: TaskContext) => unknown;

/** Task ids a node remembers, so that a task sent twice runs once. */
const REMEMBERED = 4096;
/** Tasks a node holds for executors not registered yet (the scheduler caps what it sends anyway). */
const MAX_HELD = 4096;
/** How long a task waits for its executor to be registered by default, in ms. */
export const DEFAULT_TASK_GRACE_MS = 5000;

interface Held {
  graph: string;
  task: TaskContext;
  args: unknown;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A node's side of scheduler tasks (`node.tasks`): the executors it registered by name, and the
 * runs of the tasks the scheduler sends it. Each task runs as soon as it arrives (the scheduler
 * sends it only once its deps finished); tasks run concurrently unless their deps order them.
 * A task whose executor is not registered yet waits for it up to `graceMs` (so executors can be
 * registered once `createWorker` resolved, with the worker in hand), then fails with
 * `PS_ERR_NO_EXECUTOR`.
 */
export class TaskRunner {
  private readonly executors = new Map<string, TaskExecutor>();
  /** Keys (graph and id) of the tasks received (running, held or settled), oldest first: each runs once. */
  private readonly seen = new Set<string>();
  /** The final report of each settled task still in `seen`: a repeat of the task is answered with it. */
  private readonly settled = new Map<string, WireTaskState>();
  private readonly held = new Map<string, Held[]>();
  private heldCount = 0;

  /** @internal Made by each node (`node.tasks`). */
  constructor(
    private readonly self: () => NodeId,
    private readonly report: (state: WireTaskState) => Promise<void>,
    private readonly log: Logger,
    /** How long a task waits for its executor to be registered, in ms. */
    private readonly graceMs = DEFAULT_TASK_GRACE_MS,
  ) {
    TaskRunner.checkGrace(graceMs);
  }

  /** @throws PsError `PS_ERR_CONFIG` unless `ms` is a number of ms from 0 to 3,600,000. */
  static checkGrace(ms: number): void {
    if (!(ms >= 0 && ms <= 3_600_000))
      throw new PsError(
        PsErrorCode.CONFIG,
        `taskGraceMs must be a number of ms from 0 to 3,600,000, got ${ms}`,
      );
  }

  /**
   * Registers the executor of tasks named `name`. Register before `node.start()` (or before the
   * scheduler can issue the task): a task whose name has no executor fails with `PS_ERR_NO_EXECUTOR`.
   * @throws PsError `PS_ERR_CONFIG` when `name` already has an executor or `run` is not a function.
   */
  handle(name: string, run: TaskExecutor): void {
    if (typeof run !== 'function')
      throw new PsError(PsErrorCode.CONFIG, `the executor of task ${name} must be a function`);
    if (this.executors.has(name))
      throw new PsError(
        PsErrorCode.CONFIG,
        `task ${name} already has an executor on this node; register it once`,
      );
    this.executors.set(name, run);
    const waiting = this.held.get(name) ?? [];
    this.held.delete(name);
    for (const h of waiting) {
      clearTimeout(h.timer);
      this.heldCount--;
      void this.run(h.graph, h.task, h.args);
    }
  }

  /** A `task` command from the scheduler (routed here by the node). */
  onTask(body: unknown): void {
    const t = (body ?? {}) as Partial<WireTask>;
    if (
      !Number.isInteger(t.id) ||
      typeof t.graph !== 'string' ||
      typeof t.name !== 'string' ||
      !Number.isInteger(t.app)
    ) {
      this.log.warn('malformed task from the scheduler dropped');
      return;
    }
    const id = t.id as TaskId;
    const graph = t.graph;
    const key = `${graph}:${id}`;
    if (this.seen.has(key)) {
      // The scheduler sent it again (its link came back): a lost final report goes again.
      const last = this.settled.get(key);
      if (last) void this.send(last);
      return;
    }
    this.seen.add(key);
    if (this.seen.size > REMEMBERED) {
      const old = this.seen.values().next().value!;
      this.seen.delete(old);
      this.settled.delete(old);
    }
    const task = { id, name: t.name, app: t.app as number, node: this.self() };
    if (this.executors.has(task.name) || this.graceMs === 0 || this.heldCount >= MAX_HELD)
      void this.run(graph, task, t.args ?? null);
    else this.hold(graph, task, t.args ?? null);
  }

  /** Stops the grace timers (the node closed). */
  close(): void {
    for (const list of this.held.values()) for (const h of list) clearTimeout(h.timer);
    this.held.clear();
    this.heldCount = 0;
  }

  private hold(graph: string, task: TaskContext, args: unknown): void {
    const list = this.held.get(task.name) ?? [];
    this.held.set(task.name, list);
    const timer = setTimeout(() => {
      const i = list.findIndex((h) => h.graph === graph && h.task.id === task.id);
      if (i < 0) return;
      list.splice(i, 1);
      this.heldCount--;
      if (list.length === 0) this.held.delete(task.name);
      void this.run(graph, task, args);
    }, this.graceMs);
    timer.unref?.();
    list.push({ graph, task, args, timer });
    this.heldCount++;
  }

  private async run(graph: string, task: TaskContext, args: unknown): Promise<void> {
    const exec = this.executors.get(task.name);
    if (!exec) {
      const err = new PsError(
        PsErrorCode.NO_EXECUTOR,
        `node ${task.node} has no executor for task ${task.name} (waited ${this.graceMs} ms for one); call node.tasks.handle('${task.name}', ...) on every node the task goes to`,
      );
      await this.settle({ graph, id: task.id, state: 'failed', error: err.toWire() });
      return;
    }
    await this.send({ graph, id: task.id, state: 'started' });
    let result: unknown;
    try {
      result = (await exec(args, task)) ?? null;
      encode(result); // a result that cannot travel fails here, not on the wire
    } catch (e) {
      const err =
        e instanceof PsError
          ? e
          : new PsError(
              PsErrorCode.TASK_FAILED,
              `the executor threw: ${e instanceof Error ? e.message : String(e)}`,
            );
      this.log.warn(`task ${task.id} (${task.name}) failed: ${err.message}`);
      await this.settle({ graph, id: task.id, state: 'failed', error: err.toWire() });
      return;
    }
    await this.settle({ graph, id: task.id, state: 'finished', result });
  }

  /** Reports a task's final state, and keeps it to answer a repeat of the task. */
  private async settle(state: WireTaskState): Promise<void> {
    const key = `${state.graph}:${state.id}`;
    if (this.seen.has(key)) this.settled.set(key, state);
    try {
      await this.report(state);
    } catch (e) {
      if ((e as PsError).code !== PsErrorCode.FRAME_TOO_LARGE || state.state !== 'finished') {
        this.log.warn(`could not report task ${state.id} ${state.state}: ${(e as Error).message}`);
        return;
      }
      const err = new PsError(
        PsErrorCode.TASK_FAILED,
        `the result is too large to send (${(e as Error).message}); return small plain data`,
      );
      await this.settle({ graph: state.graph, id: state.id, state: 'failed', error: err.toWire() });
    }
  }

  private send(state: WireTaskState): Promise<void> {
    return this.report(state).catch((e: unknown) =>
      this.log.warn(`could not report task ${state.id} ${state.state}: ${(e as Error).message}`),
    );
  }
}
