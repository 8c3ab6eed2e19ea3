import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../membership/cluster-view.js';
import { Ring } from '../membership/ring.js';
import { ReplicationStateStream } from './replication-state.js';

const ring = Ring.create(['s1', 's2', 's3'], { virtualNodes: 2 });
const view: ClusterView = {
  version: 1,
  epoch: 1,
  run: 'r',
  leaseMs: 1000,
  servers: ring.servers.map((id, rank) => ({ id, role: 'server', rank, host: '127.0.0.1', port: 1 })),
  workers: [],
  ring,
  replicas: 1,
  dead: [],
};
const owned = ring.ranges();
const chains = ring.chains(1);
/** The index of the first range s1 masters, and of the first it replicates. */
const mastered = owned.findIndex((r) => r.owner === 's1');
const replicated = chains.findIndex((c) => c[1] === 's1');

/** The lags of s1's ranges, in the state's order, as a string such as `0,1,0,0`. */
const lags = (s: { ranges: { lag: number }[] }) => s.ranges.map((r) => r.lag).join(',');
const held = chains.filter((c) => c.includes('s1')).length;
const at = (i: number) => chains.slice(0, i).filter((c) => c.includes('s1')).length;
const lagsWith = (i: number | undefined, n = 1) =>
  Array.from({ length: held }, (_, j) => (i !== undefined && j === at(i) ? n : 0)).join(',');

describe('ReplicationStateStream (marbles; a frame is 1 ms)', () => {
  it('reports every range the server holds, with its chain and role', () => {
    const s = new ReplicationStateStream('s1');
    s.onView(view);
    let got: { ranges: { chain: readonly string[]; role: string }[] } | undefined;
    s.state$
      .subscribe((x) => {
        got = x;
      })
      .unsubscribe();
    expect(got!.ranges.length).toBe(held);
    expect(got!.ranges.every((r) => r.chain.length === 2 && r.chain.includes('s1'))).toBe(true);
    expect(got!.ranges.filter((r) => r.role === 'master').length).toBe(
      owned.filter((r) => r.owner === 's1').length,
    );
    expect(mastered).toBeGreaterThanOrEqual(0);
    expect(replicated).toBeGreaterThanOrEqual(0);
  });

  it('throttles: a burst of forwards gives the leading state and the last of each interval', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const s = new ReplicationStateStream('s1', 10);
      s.onView(view);
      // 1 ms: 50 forwards in s1's first mastered range; 6 ms: 50 more; 31 ms: all acknowledged.
      const load = cold('-a 4ms b 24ms c', { a: 'send', b: 'send', c: 'ack' });
      let seq = 0;
      load.subscribe((what) => {
        if (what === 'send') for (let i = 0; i < 50; i++) s.sent(++seq, view, [{ index: mastered }]);
        else for (let i = 1; i <= seq; i++) s.settled(i);
      });
      // 0: the state on subscribe; the 100 changes until 10 give one state, at 10 (trailing);
      // the first ack at 31 opens a new interval (leading: 99 in flight), the other 99 acks
      // give one state at its end (41). Five emissions for 200 changes.
      expectObservable(s.state$.pipe(map(lags)), '^ 59ms !').toBe('a 9ms b 20ms c 9ms d', {
        a: lagsWith(undefined),
        b: lagsWith(mastered, 100),
        c: lagsWith(mastered, 99),
        d: lagsWith(undefined),
      });
    });
  });

  it('counts in requests per range, and emits only when the state changed', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const s = new ReplicationStateStream('s1', 10);
      s.onView(view);
      // 1: a forward in flight; 21: a second one over a mastered and a replicated range;
      // 41: both acknowledged (and an unknown one); 61: the same view again changes nothing.
      const load = cold('-a 19ms b 19ms c 19ms d', { a: 1, b: 2, c: 3, d: 4 });
      load.subscribe((step) => {
        if (step === 1) s.sent(1, view, [{ index: mastered }]);
        if (step === 2) s.sent(2, view, [{ index: mastered }, { index: replicated }]);
        if (step === 3) {
          s.settled(1);
          s.settled(2);
          s.settled(99);
        }
        if (step === 4) s.onView(view);
      });
      const lagAt = (m: number, r: number) =>
        Array.from({ length: held }, (_, j) => (j === at(mastered) ? m : j === at(replicated) ? r : 0)).join(
          ',',
        );
      expectObservable(s.state$.pipe(map(lags)), '^ 79ms !').toBe('a 9ms b 10ms c 19ms d 9ms e', {
        a: lagAt(0, 0),
        b: lagAt(1, 0),
        c: lagAt(2, 1),
        d: lagAt(1, 1),
        e: lagAt(0, 0),
      });
    });
  });

  it('on close, emits the change its interval still holds, then completes', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const s = new ReplicationStateStream('s1', 10);
      s.onView(view);
      cold('--a|').subscribe(() => {
        s.sent(1, view, [{ index: mastered }]);
        s.close();
      });
      expectObservable(s.state$.pipe(map(lags))).toBe('a 9ms (b|)', {
        a: lagsWith(undefined),
        b: lagsWith(mastered),
      });
    });
  });

  it('completes when closed, and at once for a subscriber that comes later', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const s = new ReplicationStateStream('s1', 10);
      s.onView(view);
      cold('---a').subscribe(() => s.close());
      expectObservable(s.state$).toBe('x--|', { x: expect.anything() });
    });
    const s = new ReplicationStateStream('s1');
    s.close();
    let completed = false;
    s.state$.subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
  });
});
