// The server side of a range pull: a table's stored keys in some ranges, in ascending order, with
// exact values, for the hash store and the dense range store (with keys of the dense range pushed
// at another width, which live in the hash part), whole and in pages.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { adagradHandler } from '../handlers/adagrad-handler.js';
import { sumHandler } from '../handlers/sum-handler.js';
import type { KVRequest } from '../kv-server.js';
import type { DenseRange } from '../store/dense-range.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { answerRange } from './range-answer.js';
import type { RangeRequest } from './range-request.js';

const MAX = 2n ** 64n - 1n;
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

function push(
  h: (r: KVRequest) => unknown,
  keys: bigint[],
  width: number,
  valueAt: (k: bigint, j: number) => number,
) {
  const ks = BigUint64Array.from([...new Set(keys)].sort(cmp));
  const vals = new Float64Array(ks.length * width);
  ks.forEach((k, i) => {
    for (let j = 0; j < width; j++) vals[i * width + j] = valueAt(k, j);
  });
  h({ sender: 'w', app: 0, ts: 0, push: true, pull: false, kv: { keys: ks, vals } });
  return ks;
}

function req(
  ranges: KeyRange[],
  limit = Number.POSITIVE_INFINITY,
  maxBytes = 1 << 30,
  paged = true,
): RangeRequest {
  return { ranges, limit, maxBytes, paged };
}

/** A key and its values as the reference holds them. */
type Ref = Map<bigint, number[]>;

/** What the answer must be: the reference's keys in the ranges, ascending, with their values. */
function expected(ref: Ref, ranges: KeyRange[]): { keys: bigint[]; vals: number[]; lens: number[] } {
  const keys = [...ref.keys()].filter((k) => ranges.some((r) => k >= r.begin && k < r.end)).sort(cmp);
  return { keys, vals: keys.flatMap((k) => ref.get(k)!), lens: keys.map((k) => ref.get(k)!.length) };
}

/** Sorted, disjoint ranges from a list of bounds (pairs of neighbours after sorting). */
function rangesOf(bounds: bigint[]): KeyRange[] {
  const b = [...new Set(bounds)].sort(cmp);
  const out: KeyRange[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push({ begin: b[i]!, end: b[i + 1]! });
  return out;
}

const DENSE: DenseRange[] = [
  { base: 1000n, shift: 0, count: 200, width: 2 },
  { base: 0n, shift: 56, count: 256, width: 2 },
  { base: 7n, shift: 5, count: 100, width: 2 },
];

/** A key of the dense range's grid (slot i), or any key. */
function keyArb(dense: DenseRange | undefined): fc.Arbitrary<bigint> {
  const any = fc.bigInt({ min: 0n, max: MAX });
  if (!dense) return fc.oneof(any, fc.bigInt({ min: 0n, max: 300n }));
  const grid = fc
    .integer({ min: 0, max: dense.count - 1 })
    .map((i) => (dense.base ?? 0n) + (BigInt(i) << BigInt(dense.shift ?? 0)));
  return fc.oneof(grid, grid, any);
}

describe.each([
  ['hash store', undefined],
  ['dense store, consecutive keys', DENSE[0]],
  ['dense store, hashed buckets (shift 56)', DENSE[1]],
  ['dense store, shift 5', DENSE[2]],
] as const)('answerRange on a %s', (_name, dense) => {
  const bounds = (k: fc.Arbitrary<bigint>) =>
    fc.array(
      fc.oneof(
        k,
        k.map((x) => (x < MAX ? x + 1n : x)),
        fc.constantFrom(0n, KEY_SPACE_END),
      ),
      {
        minLength: 2,
        maxLength: 8,
      },
    );

  it('answers the sorted stored keys of the ranges with their exact values, pushes and scans interleaved (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.array(keyArb(dense), { maxLength: 40 }),
            fc.constantFrom(2, 2, 3),
            bounds(keyArb(dense)),
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        (steps) => {
          const h = sumHandler({
            dtype: 'float64',
            initialCapacity: 4,
            ...(dense ? { denseRange: dense } : {}),
          });
          const ref: Ref = new Map();
          let round = 0;
          for (const [keys, width, b] of steps) {
            round++;
            // A key keeps its width: push each key at the width it first had.
            const fresh = keys.filter((k) => !ref.has(k) || ref.get(k)!.length === width);
            const ks = push(h, fresh, width, (k, j) => Number(k % 1000n) + j + round);
            for (const k of ks) {
              const old = ref.get(k) ?? new Array<number>(width).fill(0);
              ref.set(
                k,
                old.map((v, j) => v + Number(k % 1000n) + j + round),
              );
            }
            const ranges = rangesOf(b);
            const got = answerRange(h, req(ranges));
            const want = expected(ref, ranges);
            expect(Array.from(got.keys)).toEqual(want.keys);
            expect(Array.from(got.lens)).toEqual(want.lens);
            expect(Array.from(got.vals)).toEqual(want.vals);
            expect(got.next).toBeUndefined();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('pages through a range with limit and next, every key once and in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(keyArb(dense), { maxLength: 80 }),
        bounds(keyArb(dense)),
        fc.integer({ min: 1, max: 9 }),
        (keys, b, limit) => {
          const h = sumHandler({
            dtype: 'float64',
            initialCapacity: 4,
            ...(dense ? { denseRange: dense } : {}),
          });
          const ks = push(h, keys, 2, (k, j) => Number(k % 97n) * 2 + j);
          const ref: Ref = new Map(
            Array.from(ks, (k) => [k, [Number(k % 97n) * 2, Number(k % 97n) * 2 + 1]]),
          );
          const ranges = rangesOf(b);
          const want = expected(ref, ranges);
          const seen: bigint[] = [];
          const vals: number[] = [];
          let at = ranges;
          for (let page = 0; page <= want.keys.length; page++) {
            const got = answerRange(h, req(at, limit));
            expect(got.keys.length).toBeLessThanOrEqual(limit);
            seen.push(...got.keys);
            vals.push(...got.vals);
            if (got.next === undefined) break;
            expect(got.keys.length).toBe(limit);
            // The next page starts at `next`, in the first range that holds it.
            const next = got.next;
            at = at
              .filter((r) => r.end > next)
              .map((r) => (r.begin < next ? { begin: next, end: r.end } : r));
          }
          expect(seen).toEqual(want.keys);
          expect(vals).toEqual(want.vals);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('answerRange', () => {
  const all = [{ begin: 0n, end: KEY_SPACE_END }];

  it('reads what a pull reads (the rule’s weights, not its state), in float32 for a float32 table', () => {
    const h = adagradHandler({ lr: 0.5 });
    const keys = BigUint64Array.from([3n, 9n, 2n ** 63n]);
    h({
      sender: 'w',
      app: 0,
      ts: 0,
      push: true,
      pull: false,
      kv: { keys, vals: Float32Array.from([1, -2, 4]) },
    });
    const pulled = h({
      sender: 'w',
      app: 0,
      ts: 1,
      push: false,
      pull: true,
      kv: { keys, vals: new Float32Array(0) },
    });
    const got = answerRange(h, req(all));
    expect(got.vals).toBeInstanceOf(Float32Array);
    expect(Array.from(got.keys)).toEqual(Array.from(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(pulled!.vals));
  });

  it('stops at the byte budget: a page with next when paging, PS_ERR_RANGE_TOO_LARGE when not', () => {
    const h = sumHandler();
    push(h, [1n, 2n, 3n, 4n], 4, (k) => Number(k));
    // 12 bytes per key plus 4 per value: 28 bytes a key.
    const page = answerRange(h, req(all, Number.POSITIVE_INFINITY, 3 * 28 + 27));
    expect(Array.from(page.keys)).toEqual([1n, 2n, 3n]);
    expect(page.next).toBe(4n);
    const whole = () => answerRange(h, req(all, Number.POSITIVE_INFINITY, 3 * 28, false));
    expect(whole).toThrow(expect.objectContaining({ code: PsErrorCode.RANGE_TOO_LARGE }));
    // One key larger than the whole budget cannot be paged either.
    expect(() => answerRange(h, req(all, 10, 27))).toThrow(
      expect.objectContaining({ code: PsErrorCode.RANGE_TOO_LARGE }),
    );
  });

  it('refuses a handler without a table with PS_ERR_RANGE_UNSUPPORTED', () => {
    try {
      answerRange(() => undefined, req(all));
      expect.unreachable('answerRange accepted a custom handler');
    } catch (err) {
      expect(isPsError(err, PsErrorCode.RANGE_UNSUPPORTED)).toBe(true);
      expect((err as Error).message).toMatch(/table-backed handler/);
    }
  });
});
