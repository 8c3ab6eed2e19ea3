import type { NodeId, Role } from '../wire/message.js';
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
  /**
   * Membership epoch: increases whenever a node joins, leaves or is declared dead (not on a ring
   * flip alone). A node whose id is in `dead` is fenced: it may never serve again under that id.
   */
  epoch: number;
  /** The run: chosen by the scheduler when it starts, the same in every view of that scheduler. */
  run: string;
  /**
   * The lease of a server, in ms: the scheduler never declares a node dead that it heard from
   * within this time, so a server may serve for this long after sending a heartbeat the scheduler
   * answered (and holds requests once it passes, until the next answer).
   */
  leaseMs: number;
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
  /** Sync mode (aggregation on servers, `Scheduler.start({ sync: true })`); absent when off. */
  sync?: boolean;
}

/** The wire form of a view: the ring travels as its defining fields. */
export interface WireClusterView {
  version: number;
  epoch: number;
  run: string;
  leaseMs: number;
  servers: NodeInfo[];
  workers: NodeInfo[];
  ring: WireRing;
  replicas: number;
  dead: NodeId[];
  sync?: boolean;
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
  if (!Number.isInteger(w.epoch) || w.epoch < 0) throw new RangeError(`bad epoch ${w.epoch}`);
  if (typeof w.run !== 'string') throw new RangeError('a view names its run');
  if (typeof w.leaseMs !== 'number' || !(w.leaseMs > 0)) throw new RangeError(`bad lease ${w.leaseMs}`);
  if (w.sync !== undefined && typeof w.sync !== 'boolean') throw new RangeError('sync must be a boolean');
  return { ...w, dead: Array.isArray(w.dead) ? w.dead : [], ring: Ring.fromWire(w.ring) };
}
