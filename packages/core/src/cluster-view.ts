import type { NodeId, Role } from './message.js';
import { Ring, type WireRing } from './ring.js';

/** A member of the cluster as the scheduler knows it. */
export interface NodeInfo {
  id: NodeId;
  role: Exclude<Role, 'scheduler'>;
  /** 0-based rank within its role, assigned by the scheduler in registration order (never reused). */
  rank: number;
  host: string;
  /** Listening port, or 0 for a node that does not listen. */
  port: number;
}

/**
 * The cluster as published by the scheduler on `cluster$`: who is in it, which server owns
 * which key range (the consistent-hash {@link Ring}), how many replicas each range has, and who
 * has been declared dead. `version` increases with every change; `ring.version` only when
 * ownership changes.
 */
export interface ClusterView {
  version: number;
  /** Servers by rank, dead ones included (see `dead`); a joining server is listed before the ring holds it. */
  servers: NodeInfo[];
  /** Workers by rank, dead ones included (see `dead`). */
  workers: NodeInfo[];
  /** Key-range ownership: each key's master is `ring.ownerOf(key)`; its replicas follow on the ring. */
  ring: Ring;
  /** Replicas per key range besides its master (k). */
  replicas: number;
  /** Ids of nodes declared dead (missed heartbeats or lost connection). */
  dead: NodeId[];
}

/** The wire form of a view: the ring travels as its defining fields. */
export interface WireClusterView {
  version: number;
  servers: NodeInfo[];
  workers: NodeInfo[];
  ring: WireRing;
  replicas: number;
  dead: NodeId[];
}

export function viewToWire(v: ClusterView): WireClusterView {
  return { ...v, ring: v.ring.toWire() };
}

/** @throws PsError `PS_ERR_CONFIG` (from the ring) or RangeError for a malformed view. */
export function viewFromWire(w: WireClusterView): ClusterView {
  if (!w || typeof w !== 'object' || !w.ring || !Array.isArray(w.servers) || !Array.isArray(w.workers)) {
    throw new RangeError('not a cluster view');
  }
  if (!Number.isInteger(w.replicas) || w.replicas < 0)
    throw new RangeError(`bad replica count ${w.replicas}`);
  return { ...w, dead: Array.isArray(w.dead) ? w.dead : [], ring: Ring.fromWire(w.ring) };
}
