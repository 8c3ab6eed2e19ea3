import { describe, expect, it } from 'vitest';
import { isPsError, PsError, PsErrorCode } from '../errors.js';
import type { ClusterView } from '../membership/cluster-view.js';
import { Ring } from '../membership/ring.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import { SyncAggregator, type SyncPush } from './sync-aggregator.js';

const view = (workers: string[], dead: string[] = []): ClusterView => ({
  version: 1,
  epoch: 1,
  run: 'r',
  leaseMs: 1000,
  servers: [],
  workers: workers.map((id, rank) => ({ id, role: 'worker', rank, host: '127.0.0.1', port: 0 })),
  ring: Ring.create(['s0']),
  replicas: 0,
  dead,
  sync: true,
});

const kv = (keys: number[], vals: number[]): KVPairs => ({
  keys: BigUint64Array.from(keys.map(BigInt)),
  vals: Float32Array.from(vals),
});

/** An aggregator whose apply records each sum and resolves when told. */
function harness(max?: number) {
  const applied: { keys: bigint[]; vals: number[]; from: string[] }[] = [];
  const release: (() => void)[] = [];
  const agg = new SyncAggregator(
    {
      apply: (sum, pushes) => {
        applied.push({ keys: [...sum.keys], vals: [...sum.vals], from: pushes.map((p) => p.sender) });
        return new Promise((r) => release.push(() => r(undefined)));
      },
    },
    max === undefined ? {} : { maxOpenIterations: max },
  );
  const settled: string[] = [];
  const push = (sender: string, ts: number, keys: number[] = []): SyncPush => ({
    sender,
    inc: 'i',
    ts,
    keys: BigUint64Array.from(keys.map(BigInt)),
    settle: (err) => settled.push(`${sender}:${ts}${err ? `:${err.code}` : ''}`),
  });
  const flush = async () => {
    while (release.length > 0) release.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { agg, applied, settled, push, flush };
}

describe('SyncAggregator', () => {
  it('applies an iteration once every live worker pushed it, then settles its pushes', async () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1', 'w2']));
    h.agg.push(0, kv([1, 3], [1, 1]), h.push('w0', 0));
    h.agg.push(0, kv([3, 5], [2, 2]), h.push('w1', 0));
    expect(h.applied).toEqual([]);
    h.agg.push(0, kv([], []), h.push('w2', 0));
    expect(h.applied).toEqual([{ keys: [1n, 3n, 5n], vals: [1, 3, 2], from: ['w0', 'w1', 'w2'] }]);
    expect(h.settled).toEqual([]); // not before the replicas hold it
    await h.flush();
    expect(h.settled).toEqual(['w0:0', 'w1:0', 'w2:0']);
    expect(h.agg.openIterations).toBe(0);
  });

  it('applies iterations in order: t + 1 complete waits for t', async () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1']));
    h.agg.push(0, kv([1], [1]), h.push('w0', 0));
    h.agg.push(1, kv([1], [10]), h.push('w0', 1));
    h.agg.push(1, kv([1], [20]), h.push('w1', 1));
    expect(h.applied).toEqual([]);
    h.agg.push(0, kv([1], [2]), h.push('w1', 0));
    expect(h.applied.map((a) => a.vals)).toEqual([[3], [30]]);
  });

  it('holds a pull of iteration t until every open iteration below t is applied and replicated', async () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1']));
    const ran: number[] = [];
    h.agg.pull(0, () => ran.push(0)); // nothing open below 0
    h.agg.push(0, kv([1], [1]), h.push('w0', 0));
    h.agg.pull(1, () => ran.push(1));
    h.agg.pull(0, () => ran.push(-0));
    expect(ran).toEqual([0, -0]);
    h.agg.push(0, kv([1], [1]), h.push('w1', 0));
    expect(ran).toEqual([0, -0]); // applied, not yet replicated
    await h.flush();
    expect(ran).toEqual([0, -0, 1]);
  });

  it('drops a worker declared dead from the open iterations; a later joiner is not waited for', async () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1']));
    h.agg.push(0, kv([1], [1]), h.push('w0', 0));
    h.agg.onView(view(['w0', 'w1', 'w2'])); // w2 joins while 0 is open
    h.agg.push(0, kv([1], [5]), h.push('w2', 0)); // counted, not awaited
    expect(h.applied).toEqual([]);
    h.agg.onView(view(['w0', 'w1', 'w2'], ['w1']));
    expect(h.applied).toEqual([{ keys: [1n], vals: [6], from: ['w0', 'w2'] }]);
    // Iteration 1 opens with w0 and w2 live: it waits for w2 now.
    h.agg.push(1, kv([1], [1]), h.push('w0', 1));
    expect(h.applied.length).toBe(1);
    h.agg.push(1, kv([1], [1]), h.push('w2', 1));
    expect(h.applied.length).toBe(2);
  });

  it('applies a push of an iteration already applied on its own (a re-slice after a failover)', async () => {
    const h = harness();
    h.agg.onView(view(['w0']));
    h.agg.push(0, kv([1], [1]), h.push('w0', 0));
    await h.flush();
    h.agg.push(0, kv([2], [7]), h.push('w0', 0));
    expect(h.applied).toEqual([
      { keys: [1n], vals: [1], from: ['w0'] },
      { keys: [2n], vals: [7], from: ['w0'] },
    ]);
    expect(h.agg.counters).toEqual({ iterations: 1, late: 1, duplicateKeys: 0 });
  });

  it('applies a re-sliced part of an iteration not open here on its own (a server that just joined)', () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1']));
    h.agg.push(4, kv([9], [2]), { ...h.push('w0', 4), resend: true });
    expect(h.applied).toEqual([{ keys: [9n], vals: [2], from: ['w0'] }]);
    expect(h.agg.openIterations).toBe(0);
    // Once open, a re-sliced part joins the iteration's sum.
    h.agg.push(5, kv([1], [1]), h.push('w0', 5));
    h.agg.push(5, kv([2], [1]), { ...h.push('w0', 5), resend: true });
    h.agg.push(5, kv([1], [1]), h.push('w1', 5));
    expect(h.applied.at(-1)).toEqual({ keys: [1n, 2n], vals: [2, 1], from: ['w0', 'w0', 'w1'] });
  });

  it('adds a re-slice of a part still waiting in an open iteration once (a ring change while it waits)', async () => {
    const h = harness();
    h.agg.onView(view(['w0', 'w1']));
    h.agg.push(3, kv([1, 3], [1, 1]), h.push('w0', 7, [1, 3]));
    // The new ring gives this server key 5 too: w0 re-slices push 7 here as one part, keys 1, 3
    // (still in the open sum) and 5 (new here); another push of w0 (ts 8) is not a copy of it.
    h.agg.push(3, kv([1, 3, 5], [1, 1, 1]), { ...h.push('w0', 7, [1, 3, 5]), resend: true });
    h.agg.push(3, kv([1, 3, 5], [1, 1, 1]), { ...h.push('w0', 7, [1, 3, 5]), resend: true });
    h.agg.push(3, kv([3], [4]), { ...h.push('w0', 8, [3]), resend: true });
    h.agg.push(3, kv([1], [10]), h.push('w1', 2, [1]));
    expect(h.applied).toEqual([
      { keys: [1n, 3n, 5n], vals: [11, 5, 1], from: ['w0', 'w0', 'w0', 'w0', 'w1'] },
    ]);
    expect(h.agg.counters.duplicateKeys).toBe(2 + 3);
    await h.flush();
    expect(h.settled).toEqual(['w0:7', 'w0:7', 'w0:7', 'w0:8', 'w1:2']);
  });

  it('settles a re-slice of a part whose sum is being replicated with that sum, applying only what is new', async () => {
    const h = harness();
    h.agg.onView(view(['w0']));
    h.agg.push(0, kv([1, 3], [1, 1]), h.push('w0', 4, [1, 3]));
    expect(h.applied.length).toBe(1); // applied, its replicas not yet acknowledged
    h.agg.push(0, kv([1, 3], [1, 1]), { ...h.push('w0', 4, [1, 3]), resend: true });
    h.agg.push(0, kv([3, 6], [1, 1]), { ...h.push('w0', 4, [3, 6]), resend: true });
    expect(h.applied).toEqual([
      { keys: [1n, 3n], vals: [1, 1], from: ['w0'] },
      { keys: [6n], vals: [1], from: ['w0'] },
    ]);
    expect(h.settled).toEqual([]);
    await h.flush();
    await h.flush();
    expect(h.settled).toEqual(['w0:4', 'w0:4', 'w0:4']);
    expect(h.agg.counters).toEqual({ iterations: 1, late: 1, duplicateKeys: 3 });
  });

  it('caps open iterations with PS_ERR_SYNC_BACKLOG, adding nothing', () => {
    const h = harness(2);
    h.agg.onView(view(['w0', 'w1']));
    h.agg.push(0, kv([1], [1]), h.push('w0', 0));
    h.agg.push(1, kv([1], [1]), h.push('w0', 1));
    let err: unknown;
    try {
      h.agg.push(2, kv([1], [1]), h.push('w0', 2));
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.SYNC_BACKLOG)).toBe(true);
    expect((err as Error).message).toMatch(/maxOpenIterations/);
    expect(h.agg.openIterations).toBe(2);
    expect(
      () => new SyncAggregator({ apply: () => Promise.resolve(undefined) }, { maxOpenIterations: 0 }),
    ).toThrow(/positive integer/);
  });

  it('settles every push of an iteration with the replication error', async () => {
    const refused = new PsError(PsErrorCode.REPLICATION, 'a replica refused');
    const agg = new SyncAggregator({ apply: () => Promise.resolve(refused) });
    agg.onView(view(['w0']));
    const got: unknown[] = [];
    const keys = new BigUint64Array(0);
    agg.push(0, kv([1], [1]), { sender: 'w0', inc: 'i', ts: 0, keys, settle: (e) => got.push(e) });
    await new Promise((r) => setTimeout(r, 0));
    expect(got).toEqual([refused]);
  });
});
