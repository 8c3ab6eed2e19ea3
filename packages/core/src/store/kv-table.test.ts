import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { sumHandler } from '../handlers/sum-handler.js';
import { KVTable } from './kv-table.js';

const sorted = (xs: bigint[]) =>
  BigUint64Array.from([...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

describe('KVTable and sumHandler', () => {
  it('sums pushes exactly like a Map<bigint, number> (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -1000, max: 1000 })),
            { maxLength: 30 },
          ),
          {
            maxLength: 12,
          },
        ),
        (pushes) => {
          const h = sumHandler({ dtype: 'float64', initialCapacity: 4 });
          const ref = new Map<bigint, number>();
          for (const push of pushes) {
            const keys = sorted(push.map(([k]) => k));
            const vals = new Float64Array(keys.length);
            keys.forEach((k, i) => {
              const v = push.find(([pk]) => pk === k)![1];
              vals[i] = v;
              ref.set(k, (ref.get(k) ?? 0) + v);
            });
            h({ sender: 'w', app: 0, ts: 0, push: true, pull: false, kv: { keys, vals } });
          }
          const all = sorted([...ref.keys(), 12345n]);
          const out = h({
            sender: 'w',
            app: 0,
            ts: 0,
            push: false,
            pull: true,
            kv: { keys: all, vals: new Float32Array(0) },
          });
          expect(Array.from(out!.vals)).toEqual(Array.from(all, (k) => ref.get(k) ?? 0));
          expect(h.table.size).toBe(ref.size);
        },
      ),
    );
  });

  it('stores variable-length values and refuses to change a key length (PS_ERR_LENS_CONFLICT) without side effects', () => {
    const h = sumHandler();
    const keys = new BigUint64Array([1n, 2n]);
    h({
      sender: 'w',
      app: 0,
      ts: 0,
      push: true,
      pull: false,
      kv: { keys, vals: Float32Array.from([1, 2, 3]), lens: Int32Array.from([1, 2]) },
    });
    let err: unknown;
    try {
      h({
        sender: 'w',
        app: 0,
        ts: 1,
        push: true,
        pull: false,
        kv: {
          keys: new BigUint64Array([0n, 2n]),
          vals: Float32Array.from([5, 5]),
          lens: Int32Array.from([1, 1]),
        },
      });
    } catch (e) {
      err = e;
    }
    expect(isPsError(err, PsErrorCode.LENS_CONFLICT)).toBe(true);
    const out = h({
      sender: 'w',
      app: 0,
      ts: 2,
      push: false,
      pull: true,
      kv: { keys: new BigUint64Array([0n, 1n, 2n]), vals: new Float32Array(0) },
    })!;
    expect(Array.from(out.lens!)).toEqual([0, 1, 2]);
    expect(Array.from(out.vals)).toEqual([1, 2, 3]);
  });

  it('grows past its initial capacity and keeps every key', () => {
    const t = new KVTable('float32', 1, 2);
    const keys = BigUint64Array.from(
      { length: 5000 },
      (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n) % 2n ** 64n,
    ).sort();
    t.lookup(keys, true);
    expect(t.size).toBe(5000);
    const e = t.lookup(keys, false);
    expect(new Set(e.subarray(0, 5000)).size).toBe(5000);
    expect(Math.min(...e.subarray(0, 5000))).toBe(0);
  });
});

describe('the key-list cache and contiguous fast path of table handlers', () => {
  const req = (sender: string, keys: BigUint64Array, vals: Float32Array | undefined, pull: boolean) => ({
    sender,
    app: 0,
    ts: 0,
    push: vals !== undefined,
    pull,
    kv: { keys, vals: vals ?? new Float32Array(0) },
  });

  it('gives the same sums as the per-key path when lists repeat, are refilled in place, or interleave senders (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 })),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (steps) => {
          const h = sumHandler({ dtype: 'float64' });
          const ref = new Map<bigint, number>();
          // Four key lists of 1,500 to 3,000 keys, some overlapping, one reversed in insertion order.
          const lists = [0, 1, 2, 3].map((j) =>
            BigUint64Array.from({ length: 1500 + 500 * j }, (_, i) => BigInt(i * (j + 1) + j * 7)),
          );
          const reused = new BigUint64Array(3000);
          for (const [sender, j, width] of steps) {
            const src = lists[j]!;
            // Refill one shared array in place, as a worker reusing its buffers would.
            const keys = reused.subarray(0, src.length);
            keys.set(src);
            const w = j === 3 ? 1 : width; // list 3 keeps one width so that pushes never conflict
            const vals = Float32Array.from({ length: keys.length * w }, (_, i) => (i % 5) + 1);
            let err: unknown;
            try {
              h(req(sender, keys, vals, false));
            } catch (e) {
              err = e;
            }
            if (err) continue; // a width conflict with an earlier push of the same key: nothing applied
            for (let i = 0; i < keys.length; i++) {
              for (let k = 0; k < w; k++) {
                const key = keys[i]! * 8n + BigInt(k);
                ref.set(key, (ref.get(key) ?? 0) + vals[i * w + k]!);
              }
            }
          }
          for (const src of lists) {
            const out = h(req('c', src, undefined, true))!;
            const lens = out.lens;
            let o = 0;
            for (let i = 0; i < src.length; i++) {
              const len = lens ? lens[i]! : out.vals.length / src.length;
              for (let k = 0; k < len; k++)
                expect(out.vals[o + k]).toBe(ref.get(src[i]! * 8n + BigInt(k)) ?? 0);
              o += len;
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('table handlers after a pull of keys they do not hold', () => {
  it('a push of the same list creates the keys (regression: a cached missing entry dropped the push)', () => {
    for (const make of [() => sumHandler(), () => sumHandler({ dtype: 'float64' })]) {
      const h = make();
      const keys = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i * 1000 + 7));
      const none = new Float32Array(0);
      const before = h({ sender: 'w', app: 0, ts: 0, push: false, pull: true, kv: { keys, vals: none } })!;
      expect([...before.vals].every((v) => v === 0)).toBe(true);
      h({
        sender: 'w',
        app: 0,
        ts: 1,
        push: true,
        pull: false,
        kv: { keys, vals: new Float32Array(100).fill(2) },
      });
      const after = h({ sender: 'w', app: 0, ts: 2, push: false, pull: true, kv: { keys, vals: none } })!;
      expect([...after.vals]).toEqual(new Array(100).fill(2));
      // Half known, half new: the new half is created, the known half summed.
      const mixed = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i * 500 + 7));
      h({ sender: 'w', app: 0, ts: 3, push: false, pull: true, kv: { keys: mixed, vals: none } });
      h({
        sender: 'w',
        app: 0,
        ts: 4,
        push: true,
        pull: false,
        kv: { keys: mixed, vals: new Float32Array(100).fill(1) },
      });
      const m = h({ sender: 'w', app: 0, ts: 5, push: false, pull: true, kv: { keys: mixed, vals: none } })!;
      for (let i = 0; i < 100; i++) expect(m.vals[i]).toBe(i % 2 === 0 ? 3 : 1);
    }
  });
});
