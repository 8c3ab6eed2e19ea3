import { firstValueFrom, map, toArray } from 'rxjs';
import { type RunHelpers, TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { PsError, PsErrorCode } from '../errors.js';
import type { ProgressClock, WireProgressClock } from './progress-clock.js';
import { WorkerProgress } from './worker-progress.js';

/** A worker's progress fed by hand, and the reports it sent. */
function progress() {
  const reports: (number | boolean)[][] = [];
  const p = new WorkerProgress('a', (t, v, done) => reports.push(done ? [t, v, done] : [t, v]));
  return { p, reports };
}

const wire = (version: number, finished: Record<string, number>): WireProgressClock => ({
  version,
  finished: Object.entries(finished),
});

/** A clock as `clock$` emits it (plain records for comparison). */
const plain = (c: ProgressClock) => ({ version: c.version, finished: { ...c.finished } });

/** Runs `body` in virtual time (RxJS marble testing). */
function marbles(body: (h: RunHelpers) => void): void {
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(body);
}

describe('WorkerProgress', () => {
  it('reports each finished iteration once, in order, with the last clock version seen', () => {
    const { p, reports } = progress();
    p.receive(wire(4, { a: 0 }));
    p.finish(1);
    p.finish(1);
    p.finish(3);
    expect(reports).toEqual([
      [1, 4],
      [3, 4],
    ]);
    expect(p.finished).toBe(3);
    expect(p.registration()).toEqual({ progress: { t: 3, v: 4 } });
  });

  it('reports done once, with its last iteration, and refuses iterations after it', () => {
    const { p, reports } = progress();
    p.finish(2);
    p.done();
    p.done();
    expect(reports).toEqual([
      [2, 0],
      [2, 0, true],
    ]);
    expect(p.registration()).toEqual({ progress: { t: 2, v: 0, done: true } });
    expect(() => p.finish(3)).toThrow(expect.objectContaining({ code: PsErrorCode.PROGRESS }));
  });

  it('refuses bad iterations, τ and timeouts with PS_ERR_PROGRESS', () => {
    const { p } = progress();
    p.finish(2);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as PsError).code;
      }
      return 'no error';
    };
    expect(code(() => p.finish(1))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.finish(1.5))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.finish(-1))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.waitFor$(-1, 0))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.waitFor$(1, -1))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.waitFor$(1, 0.5))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.waitFor$(1, 0, { timeoutMs: 0 }))).toBe(PsErrorCode.PROGRESS);
    expect(code(() => p.waitFor$(1, 0, { timeoutMs: Number.POSITIVE_INFINITY }))).toBe(PsErrorCode.PROGRESS);
  });

  it('gives clock$ as a read-only Observable: nothing to next() a forged clock into', () => {
    const { p } = progress();
    expect('next' in p.clock$).toBe(false);
    expect('next' in p.waitFor$(1, 0)).toBe(false);
  });

  it('emits the clock once per change: not for an older version, nor for the same entries', () => {
    marbles(({ cold, expectObservable }) => {
      const { p } = progress();
      const feed = {
        a: wire(1, { a: 0, b: 0 }),
        b: wire(2, { a: 1, b: 0 }),
        c: wire(1, { a: 9, b: 9 }),
        d: wire(3, { a: 1, b: 0 }),
        e: wire(4, { a: 1, b: 1 }),
      };
      cold('a-b-c-d-e', feed).subscribe((w) => p.receive(w));
      const out = {
        x: { version: 1, finished: { a: 0, b: 0 } },
        y: { version: 2, finished: { a: 1, b: 0 } },
        z: { version: 4, finished: { a: 1, b: 1 } },
      };
      expectObservable(p.clock$.pipe(map(plain))).toBe('x-y-----z', out);
    });
  });

  it('resolves waitFor on the emission that meets the bound, with that clock', () => {
    marbles(({ cold, expectObservable }) => {
      const { p } = progress();
      // Worker a finished 3; with τ = 1 it waits until every live worker finished 2.
      const feed = {
        a: wire(1, { a: 3, b: 0 }),
        b: wire(2, { a: 3, b: 1 }),
        c: wire(3, { a: 3, b: 2 }),
        d: wire(4, { a: 3, b: 3 }),
      };
      cold('a--b--c--d', feed).subscribe((w) => p.receive(w));
      expectObservable(p.waitFor$(3, 1).pipe(map(plain))).toBe('------(c|)', {
        c: { version: 3, finished: { a: 3, b: 2 } },
      });
      // τ = 0: lockstep, every worker finished 3.
      expectObservable(p.waitFor$(3, 0).pipe(map(plain))).toBe('---------(d|)', {
        d: { version: 4, finished: { a: 3, b: 3 } },
      });
    });
  });

  it('lets a dead worker go: the clock without it meets the bound', () => {
    marbles(({ cold, expectObservable }) => {
      const { p } = progress();
      const feed = { a: wire(1, { a: 5, b: 5, c: 1 }), b: wire(2, { a: 5, b: 5 }) };
      cold('a----b', feed).subscribe((w) => p.receive(w));
      expectObservable(p.waitFor$(5, 2).pipe(map(plain))).toBe('-----(b|)', {
        b: { version: 2, finished: { a: 5, b: 5 } },
      });
    });
    const { p } = progress();
    p.receive(wire(1, { a: 5, b: 5, c: 1 }));
    p.receive(wire(2, { a: 5, b: 5 }));
    expect(p.finishedBy('c')).toBe(1);
    expect(p.finishedBy('zz')).toBeUndefined();
  });

  it('resolves at once for τ = Infinity and for t − τ ≤ 0, before any clock came', async () => {
    const { p } = progress();
    await expect(p.waitFor(100, Number.POSITIVE_INFINITY)).resolves.toEqual({ version: 0, finished: {} });
    await expect(p.waitFor(2, 2)).resolves.toEqual({ version: 0, finished: {} });
  });

  it('times out with PS_ERR_TIMEOUT when the bound is not met within timeoutMs', () => {
    marbles(({ cold, expectObservable }) => {
      const { p } = progress();
      cold('a 10ms b', { a: wire(1, { a: 2, b: 0 }), b: wire(2, { a: 2, b: 1 }) }).subscribe((w) =>
        p.receive(w),
      );
      expectObservable(p.waitFor$(2, 0, { timeoutMs: 5 })).toBe(
        '5ms #',
        undefined,
        expect.objectContaining({ code: PsErrorCode.TIMEOUT, details: { t: 2, tau: 0, slowest: 0 } }),
      );
    });
  });

  it('rejects pending and later waits with PS_ERR_CLOSED when the node closes, and ends clock$', async () => {
    const { p } = progress();
    p.receive(wire(1, { a: 1, b: 0 }));
    const pending = p.waitFor(1, 0);
    const seen = firstValueFrom(p.clock$.pipe(toArray())).catch((e: unknown) => e);
    p.close(new PsError(PsErrorCode.SHUTDOWN, 'node a is shutting down'));
    await expect(pending).rejects.toMatchObject({ code: PsErrorCode.CLOSED });
    await expect(p.waitFor(1, 0)).rejects.toMatchObject({ code: PsErrorCode.CLOSED });
    expect(await seen).toMatchObject({ code: PsErrorCode.CLOSED });
    expect(() => p.finish(2)).toThrow(/closed/);
    p.receive(wire(2, { a: 1, b: 1 })); // ignored after close
    expect(p.clock.version).toBe(1);
  });
});
