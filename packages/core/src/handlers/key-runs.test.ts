import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KVRequest } from '../kv-server.js';
import type { KVPairs, ValArray, ValDtype } from '../wire/kv-pairs.js';
import { largeBufferPool } from '../wire/large-buffer-pool.js';
import { assignHandler } from './assign-handler.js';
import { pushRequest } from './handler-requests.test-util.js';
import { findKeyRuns, KEYS_PER_RUN } from './key-runs.js';
import { sumHandler } from './sum-handler.js';
import { type TableHandler, tableHandler } from './table-handler.js';

type RuleName = 'sum' | 'assign' | 'plain';
type Op = 'push' | 'pull' | 'pushPull';

/** Sum with neither fused nor scattered paths: every request goes through `apply` and `read`. */
const plainSum = (dtype: ValDtype): TableHandler =>
  tableHandler(
    {
      name: 'plain-sum',
      states: 1,
      retainsNoViews: true,
      apply(slabs, off, len, vals, vi) {
        for (let j = 0; j < len; j++) slabs[0]![off + j]! += vals[vi + j]!;
      },
      read(slabs, off, len, out, oi) {
        for (let j = 0; j < len; j++) out[oi + j] = slabs[0]![off + j]!;
      },
    },
    { dtype },
  );

const handlerOf = (rule: RuleName, dtype: ValDtype): TableHandler =>
  rule === 'sum' ? sumHandler({ dtype }) : rule === 'assign' ? assignHandler({ dtype }) : plainSum(dtype);

/** The plain model: a Map from key to its values (small integers, so float32 sums are exact). */
class Model {
  readonly map = new Map<bigint, number[]>();
  constructor(
    readonly rule: RuleName,
    readonly width: number,
  ) {}
  push(keys: BigUint64Array, vals: ArrayLike<number>): void {
    keys.forEach((k, i) => {
      const cur = this.map.get(k) ?? new Array<number>(this.width).fill(0);
      for (let j = 0; j < this.width; j++) {
        const v = vals[i * this.width + j]!;
        cur[j] = this.rule === 'assign' ? v : cur[j]! + v;
      }
      this.map.set(k, cur);
    });
  }
  read(keys: BigUint64Array): number[] {
    return Array.from(keys).flatMap((k) => this.map.get(k) ?? new Array<number>(this.width).fill(0));
  }
}

interface Send {
  out?: boolean;
  tag?: number;
  /** Take large answers from the pool, dirtied with NaN first: an unwritten value shows. */
  pooled?: boolean;
}

const arrayOf = (dtype: ValDtype, n: number): ValArray =>
  dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);

/** Sends one request to the handler and checks its answer against the model's, exactly. */
function exchange(
  h: TableHandler,
  model: Model,
  dtype: ValDtype,
  op: Op,
  keys: BigUint64Array,
  seed: number,
  send: Send = {},
): void {
  const w = model.width;
  const vals = op === 'pull' ? new Float32Array(0) : arrayOf(dtype, keys.length * w);
  for (let i = 0; i < vals.length; i++) vals[i] = ((i * 7 + seed * 13) % 17) - 8;
  const out = send.out ? arrayOf(dtype, keys.length * w).fill(Number.NaN) : undefined;
  if (send.pooled) {
    // Dirty the pool's buffer of this size class, as an earlier answer would have left it.
    const bytes = largeBufferPool.take(keys.length * w * (dtype === 'float64' ? 8 : 4));
    new Uint8Array(bytes.buffer).fill(0xff);
    largeBufferPool.release(bytes);
  }
  const req: KVRequest = {
    sender: 'w',
    app: 0,
    ts: seed,
    push: op !== 'pull',
    pull: op !== 'push',
    kv: { keys, vals },
    keysTag: send.tag,
    out,
    answerReturns: send.pooled === true,
  };
  const answer = h(req) as KVPairs | undefined;
  if (op !== 'pull') model.push(keys, vals);
  if (op === 'push') {
    expect(answer).toBeUndefined();
    return;
  }
  expect(answer!.lens).toBeUndefined();
  expect(answer!.vals).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
  if (out) expect(answer!.vals).toBe(out);
  expect(Array.from(answer!.vals)).toEqual(model.read(keys));
  if (send.pooled && largeBufferPool.owns(answer!.vals)) largeBufferPool.release(answer!.vals);
}

const range = (from: number, to: number) =>
  BigUint64Array.from({ length: to - from }, (_, i) => BigInt(from + i));

/** Inserts `order`'s keys one push each, in that order (entries follow insertion). */
function insert(h: TableHandler, model: Model, dtype: ValDtype, order: number[]): void {
  for (const k of order) exchange(h, model, dtype, 'push', BigUint64Array.of(BigInt(k)), k);
}

/** Pushes zeros of `width` values to key `k` alone: the table stores `k` as its next entry. */
function pushKey(h: TableHandler, k: number, width: number): void {
  h(pushRequest(BigUint64Array.of(BigInt(k)), new Float32Array(width)));
}

describe('findKeyRuns', () => {
  const table = (order: number[], width = 1) => {
    const h = sumHandler();
    for (const k of order) pushKey(h, k, width);
    return h.table;
  };

  it('gives (first key, value offset, key count) triples of a list whose first key came in late', () => {
    const t = table([42, ...Array.from({ length: 200 }, (_, i) => i)]);
    const keys = range(0, 200);
    const runs = findKeyRuns(t, t.lookup(keys, false), 200, 1);
    expect(Array.from(runs!)).toEqual([0, 1, 42, 42, 0, 1, 43, 43, 157]);
  });

  it('respects the width: offsets advance by width values per key', () => {
    const t = table([42, ...Array.from({ length: 100 }, (_, i) => i)], 3);
    const runs = findKeyRuns(t, t.lookup(range(0, 100), false), 100, 3);
    expect(Array.from(runs!)).toEqual([0, 3, 42, 42, 0, 1, 43, 129, 57]);
  });

  it(`allows at most one run per ${KEYS_PER_RUN} keys on average`, () => {
    // 64 keys: two runs are few enough, three are not (unless 16 keys a run will do).
    const three = table([10, ...Array.from({ length: 64 }, (_, i) => i)]);
    // keys 0..9 -> entries 1..10, key 10 -> entry 0, keys 11..63 -> entries 11..63
    expect(findKeyRuns(three, three.lookup(range(0, 64), false), 64, 1)).toBeUndefined();
    expect(Array.from(findKeyRuns(three, three.lookup(range(0, 64), false), 64, 1, 16)!)).toEqual([
      0, 1, 10, 10, 0, 1, 11, 11, 53,
    ]);
    const t = table([63, ...Array.from({ length: 63 }, (_, i) => i)]);
    // keys 0..62 -> entries 1..63, key 63 -> entry 0: two runs
    expect(Array.from(findKeyRuns(t, t.lookup(range(0, 64), false), 64, 1)!)).toEqual([0, 1, 63, 63, 0, 1]);
    expect(findKeyRuns(t, t.lookup(range(0, 64), false), 64, 1, 33)).toBeUndefined();
  });

  it('lists a hundred runs (past its first scratch) in key order', () => {
    // Blocks of 40 keys inserted last block first: block b's keys hold entries (99 - b) * 40 ...
    const order = Array.from({ length: 100 }, (_, b) =>
      Array.from({ length: 40 }, (_, i) => (99 - b) * 40 + i),
    ).flat();
    const t = table(order);
    const runs = findKeyRuns(t, t.lookup(range(0, 4000), false), 4000, 1);
    expect(Array.from(runs!)).toEqual(
      Array.from({ length: 100 }, (_, b) => [b * 40, (99 - b) * 40, 40]).flat(),
    );
  });

  it('is undefined for a key of another width, and for scattered entries', () => {
    const h = sumHandler();
    const push = (k: number, width: number) => pushKey(h, k, width);
    for (let k = 0; k < 64; k++) push(k, k === 20 ? 2 : 1);
    expect(findKeyRuns(h.table, h.table.lookup(range(0, 64), false), 64, 1)).toBeUndefined();
    const s = table(Array.from({ length: 256 }, (_, i) => (i * 37) % 256));
    expect(findKeyRuns(s, s.lookup(range(0, 256), false), 256, 1)).toBeUndefined();
  });
});

describe('table handler on key lists of one, a few and many runs', () => {
  const cases: [RuleName, ValDtype, number][] = [
    ['sum', 'float32', 1],
    ['sum', 'float64', 1],
    ['sum', 'float32', 2],
    ['assign', 'float32', 1],
    ['assign', 'float64', 3],
    ['plain', 'float32', 1],
    ['plain', 'float64', 2],
  ];
  const n = 20_000; // 20,000 values and more: pooled answers of 80 KB and more

  for (const [rule, dtype, width] of cases) {
    it(`${rule} ${dtype} width ${width}: key 42 first, then 0..${n - 1}, as the model says`, () => {
      const h = handlerOf(rule, dtype);
      const model = new Model(rule, width);
      insert(h, model, dtype, [42]);
      exchange(h, model, dtype, 'push', range(0, n), 1);
      const few = range(0, n);
      expect(findKeyRuns(h.table, h.table.lookup(few, false), n, width)!.length).toBe(9);
      const one = range(43, n);
      let seed = 2;
      for (const keys of [few, one, few]) {
        for (const op of ['push', 'pull', 'pushPull'] as const) {
          exchange(h, model, dtype, op, keys, seed++);
          exchange(h, model, dtype, op, keys, seed++, { out: true });
          exchange(h, model, dtype, op, keys, seed++, { pooled: true });
          exchange(h, model, dtype, op, keys, seed++, { out: true, pooled: true });
        }
      }
    });

    it(`${rule} ${dtype} width ${width}: shuffled insertion (many runs) and missing keys, as the model says`, () => {
      const h = handlerOf(rule, dtype);
      const model = new Model(rule, width);
      const m = 4096;
      insert(
        h,
        model,
        dtype,
        Array.from({ length: m }, (_, i) => (i * 1031) % m),
      );
      const many = range(0, m);
      expect(findKeyRuns(h.table, h.table.lookup(many, false), m, width)).toBeUndefined();
      const missing = range(m - 100, m + 100); // keys m.. are not stored
      let seed = 1;
      for (const keys of [many, missing, many, missing]) {
        for (const send of [{}, { out: true }, { pooled: true }, { out: true, pooled: true }]) {
          exchange(h, model, dtype, 'pull', keys, seed++, send);
        }
        exchange(h, model, dtype, 'pushPull', keys, seed++, { out: true });
        exchange(h, model, dtype, 'push', keys, seed++);
      }
    });
  }

  it('pulls a list with a missing key as zeros there, then creates the key on a push of the same list', () => {
    const h = sumHandler();
    const model = new Model('sum', 1);
    insert(h, model, 'float32', [42]);
    exchange(h, model, 'float32', 'push', range(0, 5000), 1);
    const keys = range(0, 5001); // 5000 is missing
    for (let r = 0; r < 3; r++) exchange(h, model, 'float32', 'pull', keys, 2 + r, { out: true, tag: 9 });
    expect(h.table.size).toBe(5000);
    exchange(h, model, 'float32', 'pushPull', keys, 10, { tag: 9 });
    expect(h.table.size).toBe(5001);
    exchange(h, model, 'float32', 'pull', keys, 11, { out: true, tag: 9 });
  });

  it('resolves a repeated list (by content, and sealed by its tag) once, and answers it exactly', () => {
    for (const tag of [undefined, 5]) {
      const h = sumHandler();
      const model = new Model('sum', 1);
      insert(h, model, 'float32', [42, 7]);
      exchange(h, model, 'float32', 'push', range(0, 50_000), 1);
      const lookup = h.table.lookup.bind(h.table);
      let lookups = 0;
      h.table.lookup = (...args) => {
        lookups++;
        return lookup(...args);
      };
      const keys = range(0, 50_000); // runs: 0..6 | 7 | 8..41 | 42 | 43..
      for (let r = 0; r < 12; r++) {
        const op = (['pushPull', 'pull', 'push'] as const)[r % 3]!;
        exchange(h, model, 'float32', op, tag === undefined ? keys.slice() : keys, 2 + r, {
          out: r % 2 === 0,
          tag,
        });
      }
      // The push before already showed the list once, so the first request looks it up and
      // remembers it (a list is remembered once it repeats); every later one hits.
      expect(lookups).toBe(1);
    }
  });

  it('matches the model for random insertion orders, lists, widths, dtypes and rules', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<RuleName>('sum', 'assign', 'plain'),
        fc.constantFrom<ValDtype>('float32', 'float64'),
        fc.integer({ min: 1, max: 3 }),
        // Insertion: chunks of 64 keys of the key space 0..1023, in a shuffled order.
        fc.shuffledSubarray(
          Array.from({ length: 16 }, (_, i) => i),
          { minLength: 1 },
        ),
        fc.array(
          fc.record({
            op: fc.constantFrom<Op>('push', 'pull', 'pushPull'),
            from: fc.integer({ min: 0, max: 1023 }),
            len: fc.integer({ min: 1, max: 600 }),
            out: fc.boolean(),
            tag: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (rule, dtype, width, chunks, ops) => {
          const h = handlerOf(rule, dtype);
          const model = new Model(rule, width);
          for (const c of chunks) exchange(h, model, dtype, 'push', range(c * 64, c * 64 + 64), c);
          ops.forEach((o, i) => {
            const keys = range(o.from, o.from + o.len);
            exchange(h, model, dtype, o.op, keys, i, {
              out: o.out,
              tag: o.tag ? o.from * 1000 + o.len : undefined,
            });
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});
