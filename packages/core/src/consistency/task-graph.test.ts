import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsError, PsErrorCode } from '../errors.js';
import { type GraphTask, TaskGraph, type TaskGraphEvent } from './task-graph.js';

/** A graph whose releases queue up in `sent`, and whose events are recorded in `events`. */
function graph(opts: { maxPendingPerNode?: number; maxSettled?: number } = {}) {
  const sent: [GraphTask, string][] = [];
  const events: TaskGraphEvent[] = [];
  let clock = 0;
  const g = new TaskGraph({ ...opts, release: (t, n) => sent.push([t, n]), now: () => ++clock });
  g.events$.subscribe((e) => events.push(e));
  return { g, sent, events };
}

const task = (nodes: string[], deps: number[] = [], name = 't') => ({
  name,
  app: 0,
  nodes,
  deps,
  args: null,
});

describe('TaskGraph', () => {
  it('sends a task only once its deps finished on all their nodes, and gathers the results', async () => {
    const { g, sent } = graph();
    const load = g.add(task(['w0', 'w1'], [], 'load'));
    const it1 = g.add(task(['w0', 'w1'], [load], 'iterate'));
    expect(sent.map(([t, n]) => `${t.id}@${n}`)).toEqual(['1@w0', '1@w1']);
    g.started(load, 'w0');
    g.finished(load, 'w0', 10);
    expect(g.state(it1)?.state).toBe('waiting');
    expect(sent).toHaveLength(2);
    g.finished(load, 'w1', 11);
    expect(sent.map(([t, n]) => `${t.id}@${n}`)).toEqual(['1@w0', '1@w1', '2@w0', '2@w1']);
    expect(await g.wait(load)).toEqual({ w0: 10, w1: 11 });
    expect(g.state(it1)).toEqual({ state: 'running', nodes: { w0: 'sent', w1: 'sent' } });
  });

  it('lets a task of one app wait for a task of another', () => {
    const { g, sent } = graph();
    const a = g.add({ ...task(['w0']), app: 1 });
    const b = g.add({ ...task(['w1'], [a]), app: 2 });
    expect(sent.map(([t]) => t.id)).toEqual([a]);
    g.finished(a, 'w0', null);
    expect(sent.map(([t]) => [t.id, t.app])).toEqual([
      [a, 1],
      [b, 2],
    ]);
  });

  it('fails a task on a node failure and every task that depends on it, which are never sent', async () => {
    const { g, sent, events } = graph();
    const a = g.add(task(['w0', 'w1']));
    const b = g.add(task(['w0'], [a]));
    const c = g.add(task(['w1'], [b]));
    const boom = new PsError(PsErrorCode.HANDLER, 'boom');
    g.failed(a, 'w1', boom);
    await expect(g.wait(a)).rejects.toBe(boom);
    for (const id of [b, c]) {
      const err = await g.wait(id).catch((e: unknown) => e);
      expect(isPsError(err, PsErrorCode.TASK_FAILED)).toBe(true);
    }
    expect(sent.map(([t]) => t.id)).toEqual([a, a]);
    expect(g.pendingOn('w0')).toBe(0);
    expect(g.pendingOn('w1')).toBe(0);
    // A late report from the other node changes nothing.
    g.finished(a, 'w0', 1);
    expect(g.state(a)?.state).toBe('failed');
    expect(events.filter((e) => e.type === 'done').map((e) => [e.id, e.ok])).toEqual([
      [a, false],
      [b, false],
      [c, false],
    ]);
    // A task issued on a failed dep fails at once.
    const d = g.add(task(['w0'], [c]));
    expect(g.state(d)?.state).toBe('failed');
  });

  it('fails the tasks a node holds when it is gone, not those it finished', async () => {
    const { g } = graph();
    const a = g.add(task(['w0', 'w1']));
    const b = g.add(task(['w0']));
    g.finished(b, 'w0', 'ok');
    const c = g.add(task(['w0']));
    const waitsOnW1 = g.add(task(['w1'], [c]));
    const waitsOnA = g.add(task(['w0'], [a]));
    g.nodeGone('w1', new PsError(PsErrorCode.NODE_DEAD, 'w1 died'));
    await expect(g.wait(a)).rejects.toMatchObject({ code: PsErrorCode.NODE_DEAD });
    await expect(g.wait(waitsOnW1)).rejects.toMatchObject({ code: PsErrorCode.NODE_DEAD });
    await expect(g.wait(waitsOnA)).rejects.toMatchObject({ code: PsErrorCode.TASK_FAILED });
    expect(await g.wait(b)).toEqual({ w0: 'ok' });
    g.finished(c, 'w0', 'c');
    expect(await g.wait(c)).toEqual({ w0: 'c' });
  });

  it('refuses deps never issued and a node over its cap, without using an id', () => {
    const { g } = graph({ maxPendingPerNode: 2 });
    expect(() => g.add(task(['w0'], [1]))).toThrow(
      expect.objectContaining({ code: PsErrorCode.UNKNOWN_TASK }),
    );
    const a = g.add(task(['w0']));
    g.add(task(['w0', 'w1']));
    expect(() => g.add(task(['w1', 'w0']))).toThrow(
      expect.objectContaining({ code: PsErrorCode.TASK_LIMIT }),
    );
    g.finished(a, 'w0', null);
    expect(g.add(task(['w1', 'w0']))).toBe(3);
  });

  it('forgets the oldest settled tasks beyond maxSettled, and still orders deps on them', async () => {
    const { g, sent } = graph({ maxSettled: 2 });
    const ids = [1, 2, 3].map(() => g.add(task(['w0'])));
    g.failed(ids[0]!, 'w0', new PsError(PsErrorCode.HANDLER, 'x'));
    g.finished(ids[1]!, 'w0', null);
    g.finished(ids[2]!, 'w0', null);
    await expect(g.wait(ids[0]!)).rejects.toMatchObject({ code: PsErrorCode.UNKNOWN_TASK });
    expect(g.state(g.add(task(['w0'], [ids[0]!])))?.state).toBe('failed');
    const ok = g.add(task(['w0'], [ids[1]!]));
    expect(sent.at(-1)?.[0].id).toBe(ok);
    await expect(g.wait(99)).rejects.toMatchObject({ code: PsErrorCode.UNKNOWN_TASK });
  });

  it('exposes its events read-only and rejects what is unsettled on close', async () => {
    const { g } = graph();
    expect('next' in g.events$).toBe(false);
    const a = g.add(task(['w0']));
    const done = g.wait(a);
    g.close(new PsError(PsErrorCode.SHUTDOWN, 'bye'));
    await expect(done).rejects.toMatchObject({ code: PsErrorCode.SHUTDOWN });
  });

  it('never sends a task before all its deps finished everywhere, for random DAGs and interleavings', () => {
    const nodes = ['w0', 'w1', 'w2'];
    const dag = fc.array(
      fc.record({
        nodes: fc.subarray(nodes, { minLength: 1 }),
        depPicks: fc.array(fc.nat(), { maxLength: 4 }),
        fails: fc.boolean(),
      }),
      { minLength: 1, maxLength: 25 },
    );
    fc.assert(
      fc.property(dag, fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), (specs, picks) => {
        const { g, sent, events } = graph();
        const failing = new Set<number>();
        const depsOf = new Map<number, number[]>();
        specs.forEach((s, i) => {
          const deps = i === 0 ? [] : s.depPicks.map((p) => (p % i) + 1);
          const id = g.add(task(s.nodes, deps));
          depsOf.set(id, [...new Set(deps)]);
          if (s.fails && i % 5 === 4) failing.add(id);
        });
        // Run what was sent in a random order, bounded: each step finishes (or fails) one send.
        let step = 0;
        while (sent.length > 0 && step < 10_000) {
          const [t, n] = sent.splice(picks[step++ % picks.length]! % sent.length, 1)[0]!;
          g.started(t.id, n);
          if (failing.has(t.id)) g.failed(t.id, n, new PsError(PsErrorCode.HANDLER, 'x'));
          else g.finished(t.id, n, n);
        }
        const finishedAt = new Map<number, number>();
        const sentTimes: [number, number][] = [];
        for (const e of events) {
          if (e.type === 'done' && e.ok) finishedAt.set(e.id, e.time);
          if (e.type === 'sent') sentTimes.push([e.id, e.time]);
        }
        for (const [id, time] of sentTimes) {
          for (const d of depsOf.get(id)!) expect(finishedAt.get(d)).toBeLessThan(time);
        }
        // Every task settled: finished, unless it or a task it depends on (transitively) failed.
        const bad = new Set<number>();
        for (const [id, deps] of depsOf) if (failing.has(id) || deps.some((d) => bad.has(d))) bad.add(id);
        for (const id of depsOf.keys()) expect(g.state(id)?.state).toBe(bad.has(id) ? 'failed' : 'finished');
        for (const n of nodes) expect(g.pendingOn(n)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
