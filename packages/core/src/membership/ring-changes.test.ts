import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from './cluster-view.js';
import { Ring } from './ring.js';
import { ringChanges } from './ring-changes.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function view(version: number, ring: Ring, dead: string[] = []): ClusterView {
  return {
    version,
    epoch: version,
    run: 'r',
    leaseMs: 1000,
    servers: ring.servers.map((id, rank) => ({ id, role: 'server', rank, host: '127.0.0.1', port: 1 })),
    workers: [],
    ring,
    replicas: 0,
    dead,
  };
}

describe('ringChanges', () => {
  it('emits a ring once per version, skipping views that leave the ring alone', () => {
    const r0 = Ring.create(['s1', 's2'], { virtualNodes: 4 });
    const r1 = r0.withServer('s3');
    const r2 = r1.withoutServer('s1');
    scheduler().run(({ cold, expectObservable }) => {
      // Views 1 and 2 share ring 0 (a worker joined), view 4 repeats ring 1 (a death noted).
      const views = cold('a-b-c-d-e|', {
        a: view(1, r0),
        b: view(2, r0),
        c: view(3, r1),
        d: view(4, r1, ['w9']),
        e: view(5, r2),
      });
      expectObservable(views.pipe(ringChanges())).toBe('a---c---e|', { a: r0, c: r1, e: r2 });
    });
  });

  it('compares versions, not ring objects: an equal version decoded anew is no change', () => {
    const r0 = Ring.create(['s1'], { virtualNodes: 2 });
    const again = Ring.fromWire(r0.toWire());
    expect(again).not.toBe(r0);
    scheduler().run(({ cold, expectObservable }) => {
      const views = cold('a-b|', { a: view(1, r0), b: view(2, again) });
      expectObservable(views.pipe(ringChanges())).toBe('a--|', { a: r0 });
    });
  });
});
