import type { ClusterView } from '@ps/core';

/** A node of the cluster as the dashboard shows it. */
export interface NodeDigest {
  id: string;
  role: 'scheduler' | 'server' | 'worker';
  /** 0-based rank within its role (the scheduler: 0). */
  rank: number;
  host: string;
  /** Listening port; 0 for a node that does not listen (a worker). */
  port: number;
  /**
   * `alive`; `dead` once the scheduler declared it dead (missed heartbeats, lost connection);
   * `joining` for a server registered but not yet on the ring (its ranges are being copied to it).
   */
  state: 'alive' | 'dead' | 'joining';
}

/** An owned key range of the ring, its ends as shares of the 64-bit key space. */
export interface RangeDigest {
  /** `begin / 2^64`, in [0, 1). */
  begin: number;
  /** `end / 2^64`, in (0, 1]. */
  end: number;
  /** The master server's id first, then its replicas in chain order. */
  chain: string[];
}

/**
 * A JSON-able picture of a `ClusterView` (no BigInt, no class): what the scheduler tells the
 * launcher on every new view, and what the dashboard draws.
 */
export interface ClusterDigest {
  version: number;
  epoch: number;
  run: string;
  /** Replicas per key range besides its master. */
  replicas: number;
  /** The ring's version (changes only when ownership moves). */
  ringVersion: number;
  /** The scheduler first, then the servers and the workers by rank. */
  nodes: NodeDigest[];
  /** The ring's owned ranges in key order; together they cover the whole key space. */
  ranges: RangeDigest[];
}

const KEY_SPACE = 2 ** 64;

/**
 * The digest of a scheduler's view, with the scheduler itself (at `scheduler`) as the first node.
 */
export function clusterDigest(view: ClusterView, scheduler: { host: string; port: number }): ClusterDigest {
  const dead = new Set(view.dead);
  const state = (id: string, role: 'server' | 'worker'): NodeDigest['state'] =>
    dead.has(id) ? 'dead' : role === 'server' && !view.ring.has(id) ? 'joining' : 'alive';
  const nodes: NodeDigest[] = [
    {
      id: 'scheduler',
      role: 'scheduler',
      rank: 0,
      host: scheduler.host,
      port: scheduler.port,
      state: 'alive',
    },
    ...[...view.servers, ...view.workers].map((n) => ({
      id: n.id,
      role: n.role,
      rank: n.rank,
      host: n.host,
      port: n.port,
      state: state(n.id, n.role),
    })),
  ];
  const owned = view.ring.ranges();
  const chains = owned.length > 0 ? view.ring.chains(view.replicas) : [];
  const ranges = owned.map((r, i) => ({
    begin: Number(r.begin) / KEY_SPACE,
    end: Number(r.end) / KEY_SPACE,
    chain: [...(chains[i] ?? [r.owner])],
  }));
  return {
    version: view.version,
    epoch: view.epoch,
    run: view.run,
    replicas: view.replicas,
    ringVersion: view.ring.version,
    nodes,
    ranges,
  };
}
