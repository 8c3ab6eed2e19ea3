import { describe, expect, it } from 'vitest';
import type { WireProgressClock } from '../consistency/progress-clock.js';
import type { ClusterView, NodeInfo } from './cluster-view.js';
import { ProgressKeeper, progressReportFromWire } from './progress-keeper.js';
import { Ring } from './ring.js';

const worker = (id: string, rank: number): NodeInfo => ({
  id,
  role: 'worker',
  rank,
  host: '127.0.0.1',
  port: 0,
});

function view(ids: string[], dead: string[] = []): ClusterView {
  return {
    version: 1,
    epoch: 1,
    run: 'r',
    leaseMs: 1000,
    servers: [],
    workers: ids.map(worker),
    ring: Ring.create(['s'], { version: 1 }),
    replicas: 0,
    dead,
  };
}

/** A keeper and what it sent, by recipient, in order. */
function keeper() {
  const sent: { to: string; clock: WireProgressClock }[] = [];
  const k = new ProgressKeeper((to, clock) => sent.push({ to, clock }));
  return { k, sent };
}

const flush = () => new Promise<void>((r) => queueMicrotask(r));

describe('ProgressKeeper', () => {
  it('starts every worker at 0 with the first view and sends the clock to each', async () => {
    const { k, sent } = keeper();
    k.onView(view(['a', 'b']));
    await flush();
    expect(sent).toEqual([
      {
        to: 'a',
        clock: {
          version: 1,
          finished: [
            ['a', 0],
            ['b', 0],
          ],
        },
      },
      {
        to: 'b',
        clock: {
          version: 1,
          finished: [
            ['a', 0],
            ['b', 0],
          ],
        },
      },
    ]);
  });

  it('sends the reports of one turn as one clock, and never lets an entry go back', async () => {
    const { k, sent } = keeper();
    k.onView(view(['a', 'b']));
    await flush();
    sent.length = 0;
    k.report('a', { t: 1 });
    k.report('b', { t: 2 });
    k.report('a', { t: 3 });
    await flush();
    expect(sent.map((s) => s.clock)).toEqual([
      {
        version: 2,
        finished: [
          ['a', 3],
          ['b', 2],
        ],
      },
      {
        version: 2,
        finished: [
          ['a', 3],
          ['b', 2],
        ],
      },
    ]);
    sent.length = 0;
    k.report('a', { t: 2 });
    k.report('b', { t: 2 });
    await flush();
    expect(sent).toEqual([]);
  });

  it('drops a dead worker, starts a joining one at the minimum, and ignores workers not live', async () => {
    const { k, sent } = keeper();
    k.onView(view(['a', 'b', 'c']));
    k.report('a', { t: 5 });
    k.report('b', { t: 3 });
    k.report('c', { t: 1 });
    await flush();
    sent.length = 0;
    k.onView(view(['a', 'b', 'c', 'd'], ['c']));
    k.report('c', { t: 9 });
    await flush();
    expect(sent.map((s) => s.to)).toEqual(['a', 'b', 'd']);
    expect(sent[0]!.clock).toEqual({
      version: 2,
      finished: [
        ['a', 5],
        ['b', 3],
        ['d', 3],
      ],
    });
  });

  it('takes a worker done with its iterations off the clock for good', async () => {
    const { k, sent } = keeper();
    k.onView(view(['a', 'b']));
    k.report('a', { t: 3 });
    k.report('b', { t: 5 });
    await flush();
    sent.length = 0;
    k.report('a', { t: 3, done: true });
    k.report('a', { t: 4 });
    k.onView(view(['a', 'b', 'c']));
    await flush();
    expect(sent.map((s) => s.to)).toEqual(['a', 'b', 'c']);
    expect(sent[0]!.clock).toEqual({
      version: 2,
      finished: [
        ['b', 5],
        ['c', 5],
      ],
    });
  });

  it('sends a worker that registers again the current clock', async () => {
    const { k, sent } = keeper();
    k.onView(view(['a', 'b']));
    await flush();
    sent.length = 0;
    k.rejoined('b', undefined);
    expect(sent).toEqual([
      {
        to: 'b',
        clock: {
          version: 1,
          finished: [
            ['a', 0],
            ['b', 0],
          ],
        },
      },
    ]);
  });

  it('rebuilds the clock from re-registrations after a restart, past the versions the workers saw', async () => {
    const { k, sent } = keeper();
    // A restarted scheduler: the reports come before its first view.
    k.rejoined('a', { t: 7, v: 40 });
    k.rejoined('b', { t: 6, v: 41 });
    await flush();
    expect(sent).toEqual([]);
    k.onView(view(['a', 'b', 'c'], ['c']));
    await flush();
    expect(sent.map((s) => s.clock)).toEqual([
      {
        version: 42,
        finished: [
          ['a', 7],
          ['b', 6],
        ],
      },
      {
        version: 42,
        finished: [
          ['a', 7],
          ['b', 6],
        ],
      },
    ]);
  });

  it('reads reports and refuses malformed ones', () => {
    expect(progressReportFromWire({ t: 3, v: 2 })).toEqual({ t: 3, v: 2 });
    expect(progressReportFromWire({ t: 3, v: -2 })).toEqual({ t: 3 });
    expect(progressReportFromWire({ t: 3, done: true })).toEqual({ t: 3, done: true });
    expect(progressReportFromWire({ t: 3, done: 1 })).toEqual({ t: 3 });
    for (const bad of [undefined, null, 3, {}, { t: -1 }, { t: 1.5 }, { t: 2 ** 31 }, { t: '1' }])
      expect(progressReportFromWire(bad)).toBeUndefined();
  });
});
