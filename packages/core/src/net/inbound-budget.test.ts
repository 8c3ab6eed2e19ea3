import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import { INBOUND_BUDGET_EXEMPT_BYTES, InboundBudget } from './inbound-budget.js';

const MiB = 1024 * 1024;

describe('InboundBudget', () => {
  it('holds claims that fit, queues the others first come first served, and grants them as bytes free', () => {
    const b = new InboundBudget(10 * MiB);
    const granted: string[] = [];
    const a = b.claim(6 * MiB, () => granted.push('a'));
    expect(a.held).toBe(true);
    const c = b.claim(6 * MiB, () => granted.push('c'));
    const d = b.claim(2 * MiB, () => granted.push('d')); // fits, but waits behind c
    expect([c.held, d.held, b.usedBytes, b.waiting]).toEqual([false, false, 6 * MiB, 2]);
    a.release();
    expect(granted).toEqual(['c', 'd']);
    expect([c.held, d.held, b.usedBytes, b.waiting]).toEqual([true, true, 8 * MiB, 0]);
    a.release(); // idempotent
    expect(b.usedBytes).toBe(8 * MiB);
    c.release();
    d.release();
    expect(b.usedBytes).toBe(0);
  });

  it('a waiting claim given up lets the ones behind it through', () => {
    const b = new InboundBudget(10 * MiB);
    const granted: string[] = [];
    const a = b.claim(8 * MiB, () => granted.push('a'));
    const big = b.claim(10 * MiB, () => granted.push('big'));
    const small = b.claim(2 * MiB, () => granted.push('small'));
    expect(small.held).toBe(false);
    big.release(); // its connection closed while it waited
    expect(granted).toEqual(['small']);
    expect(b.usedBytes).toBe(10 * MiB);
    a.release();
    small.release();
    expect([b.usedBytes, b.waiting, granted]).toEqual([0, 0, ['small']]);
  });

  it('refuses a frame larger than the whole budget with PS_ERR_INBOUND_BUDGET, and a budget below the exempt size', () => {
    const b = new InboundBudget(4 * MiB);
    let err: unknown;
    try {
      b.claim(4 * MiB + 1, () => undefined);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe(PsErrorCode.INBOUND_BUDGET);
    expect(String(err)).toMatch(/4194305 bytes, larger than .*maxInboundBufferBytes, 4194304/);
    expect(b.claim(4 * MiB, () => undefined).held).toBe(true);
    expect(() => new InboundBudget(INBOUND_BUDGET_EXEMPT_BYTES - 1)).toThrow(/PS_ERR_CONFIG/);
  });
});

describe('InboundBudget.charge (streams that learn frame lengths late)', () => {
  it('counts bytes past the maximum, and wakes waiters once refunds bring it under', () => {
    const b = new InboundBudget(1 * MiB);
    expect(b.charge(700 * 1024)).toBe(false);
    expect(b.charge(700 * 1024)).toBe(true);
    const woken: string[] = [];
    b.onceUnder(() => woken.push('a'));
    const cancel = b.onceUnder(() => woken.push('b'));
    cancel();
    b.refund(100 * 1024);
    expect(woken).toEqual([]); // still over
    b.refund(600 * 1024);
    expect([woken, b.usedBytes]).toEqual([['a'], 700 * 1024]);
  });
});
