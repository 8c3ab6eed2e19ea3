import {
  type DurationHistogram,
  type KVServer,
  type KVWorker,
  type PsNode,
  type RequestKind,
  type RequestMetrics,
  SCHEDULER_ID,
  type Scheduler,
  type TrafficStats,
} from '@ps/core';

/** What a filter reports about itself: its signature and the segment bytes it took and gave. */
export interface FilterReading {
  readonly signature: string;
  readonly stats: { readonly bytesIn: number; readonly bytesOut: number };
}

/** One app (table) on one node, as the metrics see it. */
export interface AppReading {
  app: number;
  /** Requests by kind: a worker's sent, a server's admitted (see `RequestMetrics`). */
  requests: Readonly<Record<RequestKind, number>>;
  /** A worker's request durations by kind, in seconds (from send to answer). */
  durations?: Readonly<Record<RequestKind, DurationHistogram>>;
  /** A server's keys stored, and the bytes of its value slabs (every state of the update rule). */
  storedKeys?: number;
  storedBytes?: number;
  /** A server's forwards and range copies not yet acknowledged by a replica, and the oldest's age in seconds. */
  replicationUnacknowledged?: number;
  replicationOldestSeconds?: number;
  /** A server's segment bytes sent to other servers to replicate (first sends). */
  replicaBytes?: number;
}

/**
 * Everything the Prometheus collectors read from one node when scraped: plain numbers copied
 * out of the node's own counters (nothing is counted for the metrics alone).
 */
export interface NodeReading {
  /** The node's id (the `node` label). */
  node: string;
  /** The `role` label. */
  role: 'scheduler' | 'server' | 'worker';
  /** The node's rank in its role (-1 for the scheduler or before it joined). */
  rank: number;
  traffic: TrafficStats;
  apps: AppReading[];
  /** Seconds since the node last heard from the scheduler (not on the scheduler). */
  heartbeatAgeSeconds?: number;
  /** On the scheduler: seconds since it last heard from each live node. */
  members?: { node: string; role: string; seconds: number }[];
  /** The node's bandwidth filters, in chain order. */
  filters: { filter: string; bytesIn: number; bytesOut: number }[];
}

/** Reads one node at scrape time. */
export type NodeSource = () => NodeReading;

const filterReadings = (filters: readonly FilterReading[]) =>
  filters.map((f) => ({ filter: f.signature, bytesIn: f.stats.bytesIn, bytesOut: f.stats.bytesOut }));

const rankOf = (node: PsNode) => {
  try {
    return node.rank;
  } catch {
    return -1;
  }
};

const requestsOf = (m: RequestMetrics) => m.requests;

/** What a server's and a worker's readings have alike: the node, its traffic, its filters. */
const nodeFields = (node: PsNode, role: 'server' | 'worker', filters: readonly FilterReading[]) => ({
  node: node.id,
  role,
  rank: rankOf(node),
  traffic: node.stats,
  heartbeatAgeSeconds: node.schedulerSilenceMs / 1000,
  filters: filterReadings(filters),
});

/** The source of a server node and its apps (`createServer`'s `node` and `servers`). */
export function serverSource(
  node: PsNode,
  servers: readonly KVServer[],
  filters: readonly FilterReading[] = [],
): NodeSource {
  return () => ({
    ...nodeFields(node, 'server', filters),
    apps: servers.map((s) => {
      const lag = s.replicas.lag;
      const t = s.table;
      return {
        app: s.app,
        requests: requestsOf(s.requestMetrics),
        storedKeys: t?.size ?? 0,
        storedBytes: t ? t.slabs.reduce((n, slab) => n + slab.byteLength, 0) : 0,
        replicationUnacknowledged: lag.unacknowledged,
        replicationOldestSeconds: lag.oldestMs / 1000,
        replicaBytes: s.replicas.counters.replicaBytes,
      };
    }),
  });
}

/** The source of a worker node and its apps (`createWorker`'s `node` and `workers`). */
export function workerSource(
  node: PsNode,
  workers: readonly KVWorker[],
  filters: readonly FilterReading[] = [],
): NodeSource {
  return () => ({
    ...nodeFields(node, 'worker', filters),
    apps: workers.map((w) => ({
      app: w.app,
      requests: requestsOf(w.requestMetrics),
      durations: w.requestMetrics.durations,
    })),
  });
}

/** The source of the scheduler: its traffic and the heartbeat age of every live node. */
export function schedulerSource(s: Scheduler): NodeSource {
  return () => ({
    node: SCHEDULER_ID,
    role: 'scheduler',
    rank: -1,
    traffic: s.stats,
    apps: [],
    filters: [],
    members: s.heartbeatAges().map((m) => ({ node: m.id, role: m.role, seconds: m.ms / 1000 })),
  });
}
