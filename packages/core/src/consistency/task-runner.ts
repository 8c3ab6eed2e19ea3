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

/**
 * A node's side of scheduler tasks (`node.tasks`): the executors it registered by name, and the
 * runs of the tasks the scheduler sends it. Each task runs as soon as it arrives (the scheduler
 * sends it only once its deps finished); tasks run concurrently unless their deps order them.
 */
export class TaskRunner {
  private readonly executors = new Map<string, TaskExecutor>();
  private readonly seen = new Set<TaskId>();

  constructor(
    private readonly self: () => NodeId,
    private readonly report: (state: WireTaskState) => Promise<void>,
    private readonly log: Logger,
  ) {}

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
  }

  /** A `task` command from the scheduler (routed here by the node). */
  onTask(body: unknown): void {
    const t = (body ?? {}) as Partial<WireTask>;
    if (!Number.isInteger(t.id) || typeof t.name !== 'string' || !Number.isInteger(t.app)) {
      this.log.warn('malformed task from the scheduler dropped');
      return;
    }
    const id = t.id as TaskId;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.values().next().value!);
    void this.run({ id, name: t.name, app: t.app as number, node: this.self() }, t.args ?? null);
  }

  private async run(task: TaskContext, args: unknown): Promise<void> {
    const exec = this.executors.get(task.name);
    if (!exec) {
      const err = new PsError(
        PsErrorCode.NO_EXECUTOR,
        `node ${task.node} has no executor for task ${task.name}; call node.tasks.handle('${task.name}', ...) before node.start()`,
      );
      await this.send({ id: task.id, state: 'failed', error: err.toWire() });
      return;
    }
    await this.send({ id: task.id, state: 'started' });
    let result: unknown;
    try {
      result = await exec(args, task);
    } catch (e) {
      const err =
        e instanceof PsError
          ? e
          : new PsError(
              PsErrorCode.TASK_FAILED,
              `the executor threw: ${e instanceof Error ? e.message : String(e)}`,
            );
      this.log.warn(`task ${task.id} (${task.name}) failed: ${err.message}`);
      await this.send({ id: task.id, state: 'failed', error: err.toWire() });
      return;
    }
    try {
      await this.report({ id: task.id, state: 'finished', result: result ?? null });
    } catch (e) {
      const err = new PsError(
        PsErrorCode.TASK_FAILED,
        `the result could not be sent (${(e as Error).message}); return small plain data`,
      );
      await this.send({ id: task.id, state: 'failed', error: err.toWire() });
    }
  }

  private send(state: WireTaskState): Promise<void> {
    return this.report(state).catch((e: unknown) =>
      this.log.warn(`could not report task ${state.id} ${state.state}: ${(e as Error).message}`),
    );
  }
}
