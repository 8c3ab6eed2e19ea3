import { describe, expect, it } from 'vitest';
import { ReceiveWindow } from './receive-window.js';

const keys = (...k: number[]) => BigUint64Array.from(k.map(BigInt));

describe('ReceiveWindow', () => {
  it('tracks each part of a request: new, running, answered; a failed part runs afresh', () => {
    const w = new ReceiveWindow();
    expect(w.state('w1', 'aa', 3, 0, false)).toBe('new');
    w.mark('w1', 'aa', 3, 0, 'running');
    expect(w.state('w1', 'aa', 3, 0, true)).toBe('running');
    expect(w.state('w1', 'aa', 3, 1, true)).toBe('new');
    w.mark('w1', 'aa', 3, 0, 'answered');
    expect(w.state('w1', 'aa', 3, 0, true)).toBe('answered');
    w.unmark('w1', 'aa', 3, 0);
    expect(w.state('w1', 'aa', 3, 0, true)).toBe('new');
  });

  it('says exactly which keys of a resent sparse push were applied before, whichever copy applied them', async () => {
    const w = new ReceiveWindow();
    let replicated!: () => void;
    const held = new Promise<void>((r) => {
      replicated = r;
    });
    w.applied('w1', 'aa', 7, keys(10, 50, 90), held); // as master, replicas not yet acked
    w.applied('w1', 'aa', 7, keys(200)); // as replica of another master's forward
    const cov = w.coverage('w1', 'aa', 7, keys(10, 20, 50, 70, 90, 200, 300))!;
    // 20, 70 lie between applied keys (a span [10, 91) would wrongly cover them); 300 is new.
    expect(cov.fresh).toEqual([1, 2, 3, 4, 6, 7]);
    expect(cov.covered).toBe(4);
    expect(cov.waits).toHaveLength(2);
    let settled = false;
    void Promise.all(cov.waits).then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    replicated();
    await Promise.all(cov.waits);
    expect(w.coverage('w1', 'aa', 8, keys(10))).toBeUndefined();
    expect(w.coverage('w2', 'aa', 7, keys(10))).toBeUndefined();
  });

  it('a new incarnation of a sender starts afresh; done marks make older copies stale', () => {
    const w = new ReceiveWindow();
    w.applied('w1', 'aa', 1, keys(5));
    w.mark('w1', 'aa', 1, 0, 'answered');
    expect(w.coverage('w1', 'bb', 1, keys(5))).toBeUndefined();
    expect(w.state('w1', 'bb', 1, 0, false)).toBe('new');
    w.applied('w1', 'bb', 1, keys(5));
    w.applied('w1', 'bb', 4, keys(6));
    w.done('w1', 'bb', 2);
    expect(w.state('w1', 'bb', 1, 0, true)).toBe('stale');
    expect(w.coverage('w1', 'bb', 1, keys(5))).toBeUndefined();
    expect(w.coverage('w1', 'bb', 4, keys(6))?.covered).toBe(1);
  });

  it('is bounded: the oldest records are evicted, and a resend of one is forgotten, not applied again', () => {
    const w = new ReceiveWindow({ maxEntries: 3, maxBytes: 1 << 20 });
    for (let ts = 0; ts < 5; ts++) w.applied('w1', 'aa', ts, keys(ts));
    expect(w.coverage('w1', 'aa', 0, keys(0))).toBeUndefined();
    expect(w.state('w1', 'aa', 1, 0, true)).toBe('forgotten');
    expect(w.state('w1', 'aa', 1, 0, false)).toBe('new');
    expect(w.coverage('w1', 'aa', 4, keys(4))?.covered).toBe(1);
    const small = new ReceiveWindow({ maxEntries: 100, maxBytes: 1_000 });
    for (let ts = 0; ts < 20; ts++)
      small.applied(
        'w1',
        'aa',
        ts,
        new BigUint64Array(50).map((_, i) => BigInt(i)),
      );
    expect(small.coverage('w1', 'aa', 19, keys(3))?.covered).toBe(1);
    expect(small.state('w1', 'aa', 17, 0, true)).toBe('forgotten');
  });

  it('hands the records of some key ranges to a server taking them over', () => {
    const a = new ReceiveWindow();
    a.applied('w1', 'aa', 2, keys(1, 100, 1_000));
    a.applied('w2', 'cc', 9, keys(5));
    const out = a.export([{ begin: 50n, end: 2_000n }]);
    expect(out).toEqual([{ origin: 'w1', inc: 'aa', ts: 2, keys: keys(100, 1_000) }]);
    const b = new ReceiveWindow();
    b.import(out);
    expect(b.coverage('w1', 'aa', 2, keys(1, 100))?.fresh).toEqual([0, 1]);
  });
});
