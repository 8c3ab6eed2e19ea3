import { KEY_SPACE_END, type KeyRange } from './key-range.js';
import type { NodeId, Role } from './message.js';

/** A member of the cluster as the scheduler knows it. */
export interface NodeInfo {
  id: NodeId;
  role: Exclude<Role, 'scheduler'>;
  /** 0-based rank within its role, assigned by the scheduler in registration order. */
  rank: number;
  host: string;
  /** Listening port, or 0 for a node that does not listen. */
  port: number;
}

/**
 * The cluster as published by the scheduler on `cluster$`: who is in it, which server owns
 * which key range, and who has been declared dead. `version` increases with every change.
 */
export interface ClusterView {
  version: number;
  /** Servers by rank; `servers[i]` owns `ranges[i]`. */
  servers: NodeInfo[];
  /** Workers by rank. */
  workers: NodeInfo[];
  /** Key range of each server, in key order (`ranges[i]` belongs to `servers[i]`). */
  ranges: KeyRange[];
  /** Ids of nodes declared dead (missed heartbeats or lost connection). */
  dead: NodeId[];
}

/** The wire form of a view: msgpack cannot carry 2^64, so range bounds travel as decimal strings. */
export interface WireClusterView {
  version: number;
  servers: NodeInfo[];
  workers: NodeInfo[];
  ranges: [string, string][];
  dead: NodeId[];
}

export function viewToWire(v: ClusterView): WireClusterView {
  return { ...v, ranges: v.ranges.map((r) => [r.begin.toString(), r.end.toString()]) };
}

export function viewFromWire(w: WireClusterView): ClusterView {
  const ranges = w.ranges.map(([b, e]) => {
    const begin = BigInt(b);
    const end = BigInt(e);
    if (begin < 0n || end > KEY_SPACE_END || begin >= end) throw new RangeError(`bad key range [${b}, ${e})`);
    return { begin, end };
  });
  return { ...w, ranges };
}
