import type { ClusterView } from './cluster-view.js';
import type { ResumeState } from './resume-state.js';
import { Ring } from './ring.js';

/** Views and resume states for the membership tests: 3 servers (ring version 3), 2 workers, run r1. */
export const node = (id: string, role: 'server' | 'worker', rank: number) => ({
  id,
  role,
  rank,
  host: '127.0.0.1',
  port: 0,
});

export function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    version: 4,
    epoch: 2,
    run: 'r1',
    leaseMs: 1000,
    servers: [node('s0', 'server', 0), node('s1', 'server', 1), node('s2', 'server', 2)],
    workers: [node('w0', 'worker', 0), node('w1', 'worker', 1)],
    ring: Ring.create(['s0', 's1', 's2'], { version: 3 }),
    replicas: 1,
    dead: [],
    ...over,
  };
}

export const state = (v: ClusterView, over: Partial<ResumeState> = {}): ResumeState => ({
  view: v,
  pending: [],
  entered: { servers: 0, workers: 0, all: 0 },
  done: false,
  ...over,
});
