import type { PsNode } from '@ps/core';

/** Task names of the checkpoint protocol (see docs/checkpoints.md). */
export const CKPT_TASKS = {
  ready: 'ckpt-ready',
  propose: 'ckpt-propose',
  reach: 'ckpt-reach',
  resume: 'ckpt-resume',
  copy: 'ckpt-copy',
  flush: 'ckpt-flush',
} as const;

/**
 * How long a worker stays held without the scheduler's `ckpt-resume` before it goes on by itself
 * (the scheduler died mid-checkpoint): that checkpoint is then discarded (`ckpt-resume` says so).
 */
export const HOLD_LIMIT_MS = 60_000;

/**
 * A worker's side of a consistent checkpoint: the scheduler's tasks stop its training loop at a
 * common batch (the cut) once every push before it was acknowledged, and release it once the
 * servers copied their tables.
 *
 * - `ckpt-ready` answers `{}` and holds nothing: the scheduler asks it first, so that a worker not
 *   yet training (no executors yet) fails the round before any worker is held;
 * - `ckpt-propose` answers the batch this worker can stop before without going back (the one after
 *   the batch it is in; its shard's total once its loop ended) and holds it there;
 * - `ckpt-reach { batch }` moves the hold to the cut (the largest of the proposals) and answers,
 *   once the loop stands there and its pushes are acknowledged, `{ rank, batch }`;
 * - `ckpt-resume` lets the loop go on, and answers `{ heldMs, selfReleased }`: how long the loop
 *   stood still, and whether it went on by itself past {@link HOLD_LIMIT_MS} (the cut is then void).
 *
 * The loop calls {@link at} before each batch and {@link finished} once its pushes are all acknowledged.
 */
export class WorkerCheckpointHold {
  /** The batch the loop is in (−1 before the first). */
  private current: number;
  /** The loop stops before this batch; `undefined`: no hold. */
  private target: number | undefined;
  private ended = false;
  private standing: { batch: number; acked: Promise<unknown> } | undefined;
  private arrived: (() => void) | undefined;
  private release: (() => void) | undefined;
  /** When the loop first stood still for the checkpoint under way (`performance.now()`). */
  private heldSince: number | undefined;
  /** The loop went on by itself past {@link HOLD_LIMIT_MS} during this checkpoint. */
  private selfReleased = false;

  constructor(
    private readonly node: PsNode,
    start: number,
    private readonly total: number,
  ) {
    this.current = start - 1;
    node.tasks.handle(CKPT_TASKS.ready, () => ({}));
    node.tasks.handle(CKPT_TASKS.propose, () => {
      this.selfReleased = false;
      this.target = this.ended ? this.total : this.current + 1;
      return { batch: this.target };
    });
    node.tasks.handle(CKPT_TASKS.reach, async (args) => {
      const { batch } = args as { batch: number };
      this.target = Math.min(batch, this.total);
      const reached = this.ended ? Promise.resolve() : new Promise<void>((r) => (this.arrived = r));
      // The loop may stand at its proposal: that is the cut, or it goes on to the cut.
      if (this.standing?.batch === this.target) this.arrived?.();
      else if (this.standing) this.release?.();
      await reached;
      this.arrived = undefined;
      await this.standing?.acked;
      return { rank: this.node.rank, batch: this.ended ? this.total : this.target };
    });
    node.tasks.handle(CKPT_TASKS.resume, () => {
      const heldMs = this.heldSince === undefined ? 0 : performance.now() - this.heldSince;
      this.target = undefined;
      this.heldSince = undefined;
      this.release?.();
      this.release = undefined;
      return { heldMs, selfReleased: this.selfReleased };
    });
  }

  /**
   * Called before batch `b`: resolves at once, or, when a checkpoint holds the loop there, once the
   * scheduler releases it. `acked` resolves once every push before `b` was acknowledged.
   */
  async at(b: number, acked: () => Promise<unknown>): Promise<void> {
    this.current = b;
    if (this.target !== b) return;
    const released = new Promise<void>((r) => (this.release = r));
    this.heldSince ??= performance.now();
    this.standing = { batch: b, acked: acked() };
    if (this.target === b) this.arrived?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((r) => {
      timer = setTimeout(() => {
        this.selfReleased = true;
        this.target = undefined;
        this.node.log.warn(
          `checkpoint hold at batch ${b} lasted ${HOLD_LIMIT_MS} ms without a resume from the scheduler: training goes on, and that checkpoint is discarded`,
        );
        r();
      }, HOLD_LIMIT_MS);
    });
    await Promise.race([released, limit]);
    clearTimeout(timer);
    this.standing = undefined;
  }

  /** The loop ended and its pushes were acknowledged: a checkpoint finds this worker at its total. */
  finished(): void {
    this.ended = true;
    this.arrived?.();
    this.release?.();
  }
}
