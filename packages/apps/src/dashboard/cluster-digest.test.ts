import { type ClusterView, Ring } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { clusterDigest } from './cluster-digest.js';

const node = (id: string, role: 'server' | 'worker', rank: number, port: number) => ({
  id,
  role,
  rank,
  host: '127.0.0.1',
  port,
});

describe('clusterDigest', () => {
  it("lists the scheduler, the servers and the workers with their states, and the ring's ranges with their chains", () => {
    const ring = Ring.create(['server-a', 'server-b'], { virtualNodes: 4 });
    const view: ClusterView = {
      version: 7,
      epoch: 3,
      run: 'run-1',
      leaseMs: 5000,
      servers: [
        node('server-a', 'server', 0, 4001),
        node('server-b', 'server', 1, 4002),
        node('server-c', 'server', 2, 4003),
      ],
      workers: [node('worker-a', 'worker', 0, 0), node('worker-b', 'worker', 1, 0)],
      ring,
      replicas: 1,
      dead: ['worker-b'],
    };
    const d = clusterDigest(view, { host: '127.0.0.1', port: 4000 });
    expect(d.nodes.map((n) => [n.role, n.rank, n.id, n.port, n.state])).toEqual([
      ['scheduler', 0, 'scheduler', 4000, 'alive'],
      ['server', 0, 'server-a', 4001, 'alive'],
      ['server', 1, 'server-b', 4002, 'alive'],
      // Registered, not yet on the ring: its ranges are on their way.
      ['server', 2, 'server-c', 4003, 'joining'],
      ['worker', 0, 'worker-a', 0, 'alive'],
      ['worker', 1, 'worker-b', 0, 'dead'],
    ]);
    expect({
      version: d.version,
      epoch: d.epoch,
      run: d.run,
      replicas: d.replicas,
      ringVersion: d.ringVersion,
    }).toEqual({
      version: 7,
      epoch: 3,
      run: 'run-1',
      replicas: 1,
      ringVersion: ring.version,
    });
    const owned = ring.ranges();
    expect(d.ranges).toHaveLength(owned.length);
    expect(d.ranges.length).toBeGreaterThanOrEqual(2);
    owned.forEach((r, i) => {
      expect(d.ranges[i]!.begin).toBe(Number(r.begin) / 2 ** 64);
      expect(d.ranges[i]!.end).toBe(Number(r.end) / 2 ** 64);
      // One replica: the master, then the other server.
      expect(d.ranges[i]!.chain).toEqual([r.owner, r.owner === 'server-a' ? 'server-b' : 'server-a']);
    });
    expect(d.ranges[0]!.begin).toBe(0);
    expect(d.ranges.at(-1)!.end).toBe(1);
    // It is plain data: JSON carries all of it.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('has no ranges for a ring without servers', () => {
    const view: ClusterView = {
      version: 1,
      epoch: 0,
      run: 'r',
      leaseMs: 5000,
      servers: [],
      workers: [],
      ring: Ring.create([]),
      replicas: 0,
      dead: [],
    };
    expect(clusterDigest(view, { host: '127.0.0.1', port: 1 }).ranges).toEqual([]);
  });
});
