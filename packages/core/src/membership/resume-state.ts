import { type ClusterView, viewFromWire, type WireClusterView } from './cluster-view.js';
import type { BarrierGroup } from './scheduler.js';

/** The barrier groups, in a fixed order. */
export const BARRIER_GROUPS: readonly BarrierGroup[] = ['servers', 'workers', 'all'];

/**
 * What a node tells the scheduler when it registers again after losing its link to it (the
 * scheduler restarted at the same address, or the connection was reset): the last view it saw
 * (so its id, role, rank, address and, for the ring, the servers' positions), the barriers it is
 * waiting in, and whether it is done. A restarted scheduler rebuilds the cluster from these; a
 * live one uses them to answer what the lost link may have dropped.
 */
export interface ResumeState {
  /** The last cluster view the node saw (its run, epoch, ring). */
  view: ClusterView;
  /** Barriers the node entered and is still waiting in. */
  pending: { group: BarrierGroup; seq: number }[];
  /** The last barrier sequence number the node entered, per group (0: none). */
  entered: Record<BarrierGroup, number>;
  /** A worker that called `finalize()`: its part of the job is done. */
  done: boolean;
}

/** The wire form of a {@link ResumeState} (the view in its wire form). */
export interface WireResumeState {
  view: WireClusterView;
  pending: { group: BarrierGroup; seq: number }[];
  entered: Record<BarrierGroup, number>;
  done: boolean;
}

const isSeq = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/** @throws RangeError (or `PS_ERR_CONFIG` from the ring) for a malformed state. */
export function resumeStateFromWire(w: unknown): ResumeState {
  if (!w || typeof w !== 'object') throw new RangeError('not a resume state');
  const { view, pending, entered, done } = w as Partial<WireResumeState>;
  if (!Array.isArray(pending) || pending.length > 64)
    throw new RangeError('pending must list at most 64 barriers');
  for (const p of pending) {
    if (!p || !BARRIER_GROUPS.includes(p.group) || !isSeq(p.seq)) throw new RangeError('bad pending barrier');
  }
  if (!entered || typeof entered !== 'object' || !BARRIER_GROUPS.every((g) => isSeq(entered[g])))
    throw new RangeError('entered must give a barrier count per group');
  if (typeof done !== 'boolean') throw new RangeError('done must be a boolean');
  return {
    view: viewFromWire(view as WireClusterView),
    pending: pending.map(({ group, seq }) => ({ group, seq })),
    entered: { servers: entered.servers, workers: entered.workers, all: entered.all },
    done,
  };
}

/**
 * The last barrier of `group` that `s` has seen released: the one before its first pending
 * barrier, or the last it entered when it waits in none. A barrier one node saw released was
 * released for every member, so a restarted scheduler releases it for anyone still waiting in it.
 */
export function releasedBarrier(s: ResumeState, group: BarrierGroup): number {
  const waiting = s.pending.filter((p) => p.group === group).map((p) => p.seq);
  return waiting.length > 0 ? Math.min(...waiting) - 1 : s.entered[group];
}
