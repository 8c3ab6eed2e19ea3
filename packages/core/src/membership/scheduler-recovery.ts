import type { NodeId } from '../wire/message.js';
import type { ClusterView, NodeInfo } from './cluster-view.js';
import { BARRIER_GROUPS, type ResumeState, releasedBarrier } from './resume-state.js';
import type { Ring } from './ring.js';
import type { BarrierGroup } from './scheduler.js';

/** What a restarted scheduler rebuilds from the nodes' reports (see {@link SchedulerRecovery}). */
export interface RecoveryPlan {
  /** The highest epoch and view version any node saw: the scheduler continues past them. */
  epoch: number;
  version: number;
  /** The ring the servers report (the newest of theirs): no range moves. */
  ring: Ring;
  replicas: number;
  /** Every node of the newest view, with whether it is dead (was, or did not come back). */
  members: (NodeInfo & { dead: boolean })[];
  /** Nodes expected back that did not re-register in time. */
  missing: NodeId[];
  /** Per barrier group, the last barrier some node saw released. */
  released: Record<BarrierGroup, number>;
}

/**
 * The recovery phase of a scheduler started again at the address of one that died: it collects
 * the re-registrations of the nodes (each with its {@link ResumeState}) and, once every node of
 * the newest view reported or the window closed, gives the plan the scheduler resumes with.
 */
export class SchedulerRecovery {
  private readonly reports = new Map<NodeId, { role: NodeInfo['role']; state: ResumeState }>();
  /** The newest view reported (highest epoch, then version). */
  private newest: ClusterView | undefined;

  /** The run the reports belong to, once one came. */
  get run(): string | undefined {
    return this.newest?.run;
  }

  /** Records node `id`'s report (a repeated one replaces the earlier). */
  add(id: NodeId, role: NodeInfo['role'], state: ResumeState): void {
    this.reports.set(id, { role, state });
    const v = state.view;
    const n = this.newest;
    if (!n || v.epoch > n.epoch || (v.epoch === n.epoch && v.version > n.version)) this.newest = v;
  }

  /** The node's entry in its own view (its rank), if it is listed there. */
  static self(id: NodeId, view: ClusterView): NodeInfo | undefined {
    return [...view.servers, ...view.workers].find((n) => n.id === id);
  }

  /** Live nodes of the newest view that have not re-registered yet. */
  awaited(): NodeId[] {
    const v = this.newest;
    if (!v) return [];
    return [...v.servers, ...v.workers]
      .filter((n) => !v.dead.includes(n.id) && !this.reports.has(n.id))
      .map((n) => n.id);
  }

  /** The plan, or undefined when no node reported a state (nothing to recover). */
  plan(): RecoveryPlan | undefined {
    const v = this.newest;
    if (!v) return undefined;
    let ring = v.ring;
    let epoch = 0;
    let version = 0;
    for (const { state } of this.reports.values()) {
      epoch = Math.max(epoch, state.view.epoch);
      version = Math.max(version, state.view.version);
    }
    // The servers' newest ring wins over a worker's (a worker may lag one flip behind).
    const serverRing = [...this.reports.values()]
      .filter((r) => r.role === 'server')
      .map((r) => r.state.view.ring)
      .sort((a, b) => b.version - a.version)[0];
    if (serverRing) ring = serverRing;
    const missing = this.awaited();
    const members = [...v.servers, ...v.workers].map((n) => ({
      ...n,
      dead: v.dead.includes(n.id) || missing.includes(n.id),
    }));
    // A node that re-registered but is not in the newest view (it joined just before the crash).
    for (const [id, { state }] of this.reports) {
      const me = SchedulerRecovery.self(id, state.view);
      if (me && !members.some((m) => m.id === id)) members.push({ ...me, dead: false });
    }
    const released = { servers: 0, workers: 0, all: 0 };
    for (const { state } of this.reports.values())
      for (const g of BARRIER_GROUPS) released[g] = Math.max(released[g], releasedBarrier(state, g));
    return { epoch, version, ring, replicas: v.replicas, members, missing, released };
  }
}
