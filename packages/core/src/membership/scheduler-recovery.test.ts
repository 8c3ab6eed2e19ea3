import { describe, expect, it } from 'vitest';
import { state, view } from './resume-fixtures.test-util.js';
import { Ring } from './ring.js';
import { SchedulerRecovery } from './scheduler-recovery.js';

describe('SchedulerRecovery', () => {
  it('awaits every live node of the newest view, and plans from the servers’ ring', () => {
    const rec = new SchedulerRecovery();
    expect(rec.plan()).toBeUndefined();
    const old = view({ version: 3, epoch: 1, ring: Ring.create(['s0', 's1'], { version: 2 }) });
    rec.add('w1', 'worker', state(old)); // a worker one flip behind
    expect(rec.run).toBe('r1');
    expect(rec.awaited().sort()).toEqual(['s0', 's1', 's2', 'w0']);
    const newest = view({ dead: ['w1'] });
    for (const id of ['s0', 's1', 's2']) rec.add(id, 'server', state(newest));
    rec.add(
      'w0',
      'worker',
      state(newest, { pending: [{ group: 'workers', seq: 2 }], entered: { servers: 0, workers: 2, all: 0 } }),
    );
    // w1 is dead in the newest view: it is not awaited.
    expect(rec.awaited()).toEqual([]);
    const plan = rec.plan()!;
    expect(plan.epoch).toBe(2);
    expect(plan.version).toBe(4);
    expect(plan.ring.version).toBe(3);
    expect(plan.ring.servers).toEqual(['s0', 's1', 's2']);
    expect(plan.replicas).toBe(1);
    expect(plan.missing).toEqual([]);
    expect(plan.members.find((m) => m.id === 'w1')?.dead).toBe(true);
    expect(plan.released).toEqual({ servers: 0, workers: 1, all: 0 });
  });

  it('names the nodes that did not come back as missing (dead), and takes a barrier one node saw released', () => {
    const rec = new SchedulerRecovery();
    const v = view();
    rec.add('s0', 'server', state(v));
    rec.add('s2', 'server', state(v));
    rec.add(
      'w0',
      'worker',
      state(v, { pending: [{ group: 'all', seq: 4 }], entered: { servers: 0, workers: 0, all: 4 } }),
    );
    rec.add('w1', 'worker', state(v, { entered: { servers: 0, workers: 0, all: 4 } })); // saw 4 released
    const plan = rec.plan()!;
    expect(plan.missing).toEqual(['s1']);
    expect(plan.members.filter((m) => m.dead).map((m) => m.id)).toEqual(['s1']);
    expect(plan.released.all).toBe(4);
  });
});
