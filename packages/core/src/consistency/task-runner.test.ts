import { describe, expect, it } from 'vitest';
import { PsError, PsErrorCode } from '../errors.js';
import type { WireTaskState } from '../membership/task-issuer.js';
import { TaskRunner } from './task-runner.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A runner whose reports land in `reports`; `until(n)` resolves once there are n of them. */
function runner(graceMs?: number, report?: (s: WireTaskState) => Promise<void>) {
  const reports: WireTaskState[] = [];
  const waiters: [number, () => void][] = [];
  const r = new TaskRunner(
    () => 'w0',
    async (s) => {
      await report?.(s);
      reports.push(s);
      for (const [n, go] of waiters) if (reports.length >= n) go();
    },
    quiet,
    graceMs,
  );
  const until = (n: number) =>
    new Promise<void>((resolve) => (reports.length >= n ? resolve() : waiters.push([n, resolve])));
  return { r, reports, until };
}

const task = (id: number, name: string, args: unknown = null, graph = 'g1') => ({
  graph,
  id,
  name,
  app: 0,
  args,
});

describe('TaskRunner', () => {
  it('runs a task once, reports started then finished, and answers a repeat with the same result', async () => {
    const { r, reports, until } = runner();
    let runs = 0;
    r.handle('sq', (args, t) => {
      runs++;
      return { v: (args as number) ** 2, node: t.node, id: t.id };
    });
    r.onTask(task(7, 'sq', 3));
    await until(2);
    r.onTask(task(7, 'sq', 3));
    await until(3);
    expect(runs).toBe(1);
    const finished = { graph: 'g1', id: 7, state: 'finished', result: { v: 9, node: 'w0', id: 7 } };
    expect(reports).toEqual([{ graph: 'g1', id: 7, state: 'started' }, finished, finished]);
    // The same id from another graph (a scheduler restarted with recover) is another task.
    r.onTask(task(7, 'sq', 4, 'g2'));
    await until(5);
    expect(runs).toBe(2);
    expect(reports.at(-1)).toEqual({
      graph: 'g2',
      id: 7,
      state: 'finished',
      result: { v: 16, node: 'w0', id: 7 },
    });
  });

  it('carries a PsError with its code, anything else as PS_ERR_TASK_FAILED, and a result msgpack cannot encode', async () => {
    const { r, reports, until } = runner();
    r.handle('coded', () => {
      throw new PsError(PsErrorCode.DATASET, 'no shard');
    });
    r.handle('plain', async () => {
      throw new Error('disk full');
    });
    r.handle('fn', () => () => 1);
    r.onTask(task(1, 'coded'));
    r.onTask(task(2, 'plain'));
    r.onTask(task(3, 'fn'));
    await until(6);
    const failed = (id: number) => reports.find((s) => s.id === id && s.state === 'failed')?.error;
    expect(failed(1)).toEqual({ code: PsErrorCode.DATASET, message: 'no shard' });
    expect(failed(2)).toEqual({ code: PsErrorCode.TASK_FAILED, message: 'the executor threw: disk full' });
    expect(failed(3)?.code).toBe(PsErrorCode.TASK_FAILED);
  });

  it('fails a result too large for a frame, and drops malformed tasks', async () => {
    const tooLarge = new PsError(PsErrorCode.FRAME_TOO_LARGE, 'frame of 9 bytes exceeds maxFrameBytes (8)');
    const { r, reports, until } = runner(undefined, async (s) => {
      if (s.state === 'finished') throw tooLarge;
    });
    r.handle('big', () => 'x'.repeat(100));
    r.onTask({ id: 'x', name: 'big' });
    r.onTask(null);
    r.onTask(task(4, 'big'));
    await until(2);
    expect(reports.map((s) => [s.id, s.state, s.error?.code])).toEqual([
      [4, 'started', undefined],
      [4, 'failed', PsErrorCode.TASK_FAILED],
    ]);
  });

  it('holds a task for an executor registered within the grace, and fails it past the grace', async () => {
    const { r, reports, until } = runner(50);
    r.onTask(task(1, 'late', 2));
    r.onTask(task(2, 'never'));
    r.handle('late', (a) => (a as number) + 1);
    await until(3);
    expect(reports.find((s) => s.id === 1 && s.state === 'finished')?.result).toBe(3);
    expect(reports.find((s) => s.id === 2)).toMatchObject({
      state: 'failed',
      error: { code: PsErrorCode.NO_EXECUTOR },
    });
    expect(
      () =>
        new TaskRunner(
          () => 'w0',
          async () => undefined,
          quiet,
          -1,
        ),
    ).toThrow(expect.objectContaining({ code: PsErrorCode.CONFIG }));
  });
});
