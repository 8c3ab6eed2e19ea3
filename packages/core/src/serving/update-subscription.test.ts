import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { KeyCoalescer } from '../internal/key-coalescer.js';
import { UpdateSubscription } from './update-subscription.js';
import { resolveUpdatesOptions } from './updates-options.js';

const k = (...xs: number[]) => BigUint64Array.from(xs.map(BigInt));
const range = (from: number, n: number) => BigUint64Array.from({ length: n }, (_, i) => BigInt(from + i));

describe('KeyCoalescer', () => {
  it('holds each key once, however often it is added, and hands keys out in order', () => {
    const c = new KeyCoalescer(8);
    for (let r = 0; r < 50; r++) c.add(k(9, 3, 7, 3));
    // 200 keys added; merged every time the raw part passes 8: never more than 4 + 8 held.
    expect(c.size).toBeLessThanOrEqual(12);
    expect(Array.from(c.take(2))).toEqual([3n, 7n]);
    expect(Array.from(c.take(10))).toEqual([9n]);
    expect(c.size).toBe(0);
  });

  it('copies what it is given: a later change to the caller`s array is not seen', () => {
    const c = new KeyCoalescer(100);
    const keys = k(1, 2);
    c.add(keys);
    keys[0] = 50n;
    expect(Array.from(c.take(10))).toEqual([1n, 2n]);
  });
});

describe('UpdateSubscription (the pull form for slow consumers)', () => {
  const make = (opts: { maxKeys?: number; intervalMs?: number }) => {
    const src = new Subject<BigUint64Array>();
    const sub = new UpdateSubscription(src, resolveUpdatesOptions(opts), (keys) => ({ keys }));
    return { src, sub };
  };

  it('coalesces the updates made while the consumer was busy into bounded, sorted batches', async () => {
    const { src, sub } = make({ maxKeys: 1000, intervalMs: 60_000 });
    // 10,000 pushes of the same 100 keys (1,000,000 updates) while nobody asks.
    for (let r = 0; r < 10_000; r++) src.next(range(r % 2 === 0 ? 0 : 50, 100));
    expect(sub.heldKeys).toBeLessThanOrEqual(150 + 1000);
    // No batch cut yet: the first is handed over as soon as it is asked for.
    const first = await sub.next();
    expect(first.done).toBe(false);
    expect(Array.from(first.value!.keys)).toEqual(Array.from(range(0, 150)));
    expect(sub.heldKeys).toBe(0);
    sub.close();
    expect((await sub.next()).done).toBe(true);
  });

  it('waits out the interval after a batch unless maxKeys keys are held', async () => {
    const { src, sub } = make({ maxKeys: 4, intervalMs: 60_000 });
    src.next(k(1));
    expect(Array.from((await sub.next()).value!.keys)).toEqual([1n]);
    // Within the interval: 3 keys do not fill a batch, the 4th does, at once.
    const next = sub.next();
    let got: BigUint64Array | undefined;
    void next.then((r) => {
      got = r.value!.keys;
    });
    src.next(k(2, 3, 4));
    await Promise.resolve();
    expect(got).toBeUndefined();
    src.next(k(5, 6));
    expect(Array.from((await next).value!.keys)).toEqual([2n, 3n, 4n, 5n]);
    // The rest (6) is held; the server terminating hands it over, then ends the iteration.
    src.complete();
    expect(Array.from((await sub.next()).value!.keys)).toEqual([6n]);
    expect((await sub.next()).done).toBe(true);
  });

  it('cuts a batch once the interval passed, timed from the previous batch', async () => {
    const { src, sub } = make({ maxKeys: 1000, intervalMs: 30 });
    src.next(k(1));
    const t0 = performance.now();
    await sub.next();
    src.next(k(2));
    const second = await sub.next();
    expect(Array.from(second.value!.keys)).toEqual([2n]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    sub.close();
  });

  it('ends a for-await loop on break and unsubscribes from the server', async () => {
    const { src, sub } = make({ maxKeys: 10, intervalMs: 0 });
    src.next(k(1, 2));
    const seen: bigint[] = [];
    for await (const batch of sub) {
      seen.push(...batch.keys);
      break;
    }
    expect(seen).toEqual([1n, 2n]);
    expect(src.observed).toBe(false);
  });
});

describe('resolveUpdatesOptions', () => {
  it('fills defaults and refuses bad options with PS_ERR_CONFIG', () => {
    expect(resolveUpdatesOptions()).toEqual({ maxKeys: 65_536, intervalMs: 100, values: false });
    for (const bad of [{ maxKeys: 0 }, { maxKeys: 1.5 }, { intervalMs: -1 }, { intervalMs: Number.NaN }]) {
      expect(() => resolveUpdatesOptions(bad)).toThrow(expect.objectContaining({ code: 'PS_ERR_CONFIG' }));
    }
    expect(() => resolveUpdatesOptions({ values: 'yes' as unknown as boolean })).toThrow(/values must be/);
  });
});
