import { describe, expect, it } from 'vitest';
import { viewToWire } from './cluster-view.js';
import { state, view } from './resume-fixtures.test-util.js';
import { releasedBarrier, resumeStateFromWire } from './resume-state.js';

describe('resumeStateFromWire', () => {
  it('round-trips a state and refuses malformed ones', () => {
    const s = state(view(), {
      pending: [{ group: 'workers', seq: 3 }],
      entered: { servers: 1, workers: 3, all: 0 },
    });
    const back = resumeStateFromWire({ ...s, view: viewToWire(s.view) });
    expect(back.pending).toEqual([{ group: 'workers', seq: 3 }]);
    expect(back.entered).toEqual({ servers: 1, workers: 3, all: 0 });
    expect(back.view.ring.version).toBe(3);
    expect(back.view.ring.servers).toEqual(['s0', 's1', 's2']);
    const wire = { ...s, view: viewToWire(s.view) };
    expect(() => resumeStateFromWire(null)).toThrow(RangeError);
    expect(() => resumeStateFromWire({ ...wire, pending: [{ group: 'nobody', seq: 1 }] })).toThrow(/pending/);
    expect(() => resumeStateFromWire({ ...wire, pending: Array(65).fill({ group: 'all', seq: 1 }) })).toThrow(
      /64/,
    );
    expect(() => resumeStateFromWire({ ...wire, entered: { servers: -1, workers: 0, all: 0 } })).toThrow(
      /entered/,
    );
    expect(() => resumeStateFromWire({ ...wire, done: 'yes' })).toThrow(/done/);
    expect(() => resumeStateFromWire({ ...wire, view: { ...wire.view, run: 7 } })).toThrow(/run/);
  });

  it('releasedBarrier: the one before the first pending, else the last entered', () => {
    const v = view();
    expect(releasedBarrier(state(v, { entered: { servers: 0, workers: 5, all: 0 } }), 'workers')).toBe(5);
    expect(
      releasedBarrier(
        state(v, { pending: [{ group: 'workers', seq: 5 }], entered: { servers: 0, workers: 5, all: 0 } }),
        'workers',
      ),
    ).toBe(4);
  });
});
