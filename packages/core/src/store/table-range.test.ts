// KVTable.exportRanges / importRanges against a reference model: a Map from key to its values
// per slab.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { adagradHandler } from '../handlers/adagrad-handler.js';
import { sumHandler } from '../handlers/sum-handler.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import type { ValDtype } from '../wire/kv-pairs.js';
import { KVTable } from './kv-table.js';
import type { TableRange } from './table-range.js';

const MAX_KEY = KEY_SPACE_END - 1n;
const ALL: KeyRange[] = [{ begin: 0n, end: KEY_SPACE_END }];

/** Key -> values per slab (`vals[s]` has the key's length). */
type Model = Map<bigint, number[][]>;

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const inRanges = (ranges: readonly KeyRange[], k: bigint) => ranges.some((r) => k >= r.begin && k < r.end);

/** Keys that often share the 32-bit words that range bounds test, and sometimes anything. */
const keyArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.constantFrom(2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 63n, MAX_KEY - 1n, MAX_KEY),
  fc.bigInt({ min: 0n, max: MAX_KEY }),
);

/** Sorted, disjoint, non-empty ranges from distinct bounds (KEY_SPACE_END included sometimes). */
const rangesArb = fc
  .uniqueArray(fc.oneof(keyArb, fc.constant(KEY_SPACE_END)), { maxLength: 8 })
  .map((bounds) => {
    const b = [...bounds].sort(cmp);
    const out: KeyRange[] = [];
    for (let i = 0; i + 1 < b.length; i += 2) out.push({ begin: b[i]!, end: b[i + 1]! });
    return out;
  });

const valsArb = fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 12, maxLength: 12 });

/** A table setup: dtype, states, fixed width or variable lengths, and keys with lengths and values. */
const setupArb = fc.record({
  dtype: fc.constantFrom<ValDtype>('float32', 'float64'),
  states: fc.integer({ min: 1, max: 3 }),
  width: fc.integer({ min: 1, max: 4 }),
  variable: fc.boolean(),
  rows: fc.uniqueArray(fc.tuple(keyArb, fc.integer({ min: 0, max: 4 }), valsArb), {
    selector: (r) => r[0],
    maxLength: 40,
  }),
  batches: fc.integer({ min: 1, max: 4 }),
});
type Setup = typeof setupArb extends fc.Arbitrary<infer T> ? T : never;

const lenOf = (s: Pick<Setup, 'variable' | 'width'>, len: number) => (s.variable ? len : s.width);
const slabVals = (vals: number[], states: number, len: number) =>
  Array.from({ length: states }, (_, s) => Array.from({ length: len }, (_, j) => vals[(s * 4 + j) % 12]!));

/** Builds a table and its model, inserting keys in the generated (unsorted) order, in batches. */
function build(s: Setup): { table: KVTable; model: Model } {
  const table = new KVTable(s.dtype, s.states, 4);
  const model: Model = new Map();
  const per = Math.ceil(s.rows.length / s.batches) || 1;
  for (let at = 0; at < s.rows.length; at += per) {
    const batch = s.rows.slice(at, at + per);
    const keys = BigUint64Array.from(batch.map((r) => r[0]));
    const lens = Int32Array.from(batch.map((r) => lenOf(s, r[1])));
    const entries = Int32Array.from(table.lookup(keys, true, s.width, s.variable ? lens : undefined));
    batch.forEach(([k, , vals], i) => {
      const v = slabVals(vals, s.states, lens[i]!);
      model.set(k, v);
      const off = table.offsetOf(entries[i]!);
      v.forEach((sv, si) => {
        table.slabs[si]!.set(sv, off);
      });
    });
  }
  return { table, model };
}

/** What exportRanges should return, from the model. */
function expected(model: Model, ranges: readonly KeyRange[]) {
  const keys = [...model.keys()].filter((k) => inRanges(ranges, k)).sort(cmp);
  const lens = keys.map((k) => model.get(k)![0]?.length ?? 0);
  const states = model.size > 0 ? [...model.values()][0]!.length : 0;
  const slabs = Array.from({ length: states }, (_, s) => keys.flatMap((k) => model.get(k)![s]!));
  return { keys, lens, slabs };
}

function plain(r: TableRange) {
  return { keys: Array.from(r.keys), lens: Array.from(r.lens), slabs: r.slabs.map((s) => Array.from(s)) };
}

function expectMatches(r: TableRange, model: Model, ranges: readonly KeyRange[], states: number) {
  const want = expected(model, ranges);
  const got = plain(r);
  expect(got.keys).toEqual(want.keys);
  expect(got.lens).toEqual(want.lens);
  expect(r.slabs.length).toBe(states);
  if (want.keys.length > 0) expect(got.slabs).toEqual(want.slabs);
  else for (const s of got.slabs) expect(s).toEqual([]);
}

/** TableRange data for `ranges` that fits `model`: stored keys keep their length. */
function dataFor(s: Setup, model: Model, ranges: readonly KeyRange[], rows: Setup['rows']): TableRange {
  const picked = rows.filter(([k]) => inRanges(ranges, k)).sort((a, b) => cmp(a[0], b[0]));
  const lens = picked.map(([k, len]) => model.get(k)?.[0]?.length ?? lenOf(s, len));
  const per = picked.map(([, , vals], i) =>
    slabVals(
      vals.map((v) => v + 7),
      s.states,
      lens[i]!,
    ),
  );
  const Ctor = s.dtype === 'float64' ? Float64Array : Float32Array;
  return {
    keys: BigUint64Array.from(picked.map((r) => r[0])),
    lens: Int32Array.from(lens),
    slabs: Array.from({ length: s.states }, (_, si) => Ctor.from(per.flatMap((p) => p[si]!))),
    dtype: s.dtype,
    states: s.states,
  };
}

/** The model after importing `data` into `ranges`. */
function applyImport(model: Model, ranges: readonly KeyRange[], data: TableRange): void {
  for (const [k, v] of model)
    if (inRanges(ranges, k))
      model.set(
        k,
        v.map((sv) => sv.map(() => 0)),
      );
  let o = 0;
  data.keys.forEach((k, i) => {
    const len = data.lens[i]!;
    model.set(
      k,
      data.slabs.map((s) => Array.from(s.subarray(o, o + len))),
    );
    o += len;
  });
}

const newRowsArb = fc.uniqueArray(fc.tuple(keyArb, fc.integer({ min: 0, max: 4 }), valsArb), {
  selector: (r) => r[0],
  maxLength: 30,
});

describe('KVTable.exportRanges', () => {
  it('returns exactly the stored keys inside the ranges, ascending, with lengths and every slab (property)', () => {
    fc.assert(
      fc.property(setupArb, rangesArb, (s, ranges) => {
        const { table, model } = build(s);
        const r = table.exportRanges(ranges);
        expect(r.dtype).toBe(s.dtype);
        expect(r.states).toBe(s.states);
        expect(r.slabs[0]).toBeInstanceOf(s.dtype === 'float64' ? Float64Array : Float32Array);
        expectMatches(r, model, ranges, s.states);
        // The whole key space returns everything.
        expectMatches(table.exportRanges(ALL), model, ALL, s.states);
      }),
      { numRuns: 300 },
    );
  });

  it('copies: changing the table afterwards does not change an export', () => {
    const t = new KVTable('float32', 1);
    const e = t.lookup(BigUint64Array.of(5n), true, 2);
    t.slabs[0]!.set([1, 2], t.offsetOf(e[0]!));
    const r = t.exportRanges(ALL);
    t.slabs[0]!.fill(9);
    expect(Array.from(r.slabs[0]!)).toEqual([1, 2]);
  });

  it('handles bounds that differ only in the low or high word, and the last key', () => {
    const t = new KVTable('float64', 1);
    const keys = BigUint64Array.of(0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 33n, MAX_KEY);
    const e = Int32Array.from(t.lookup(keys, true, 1));
    for (let i = 0; i < keys.length; i++) t.slabs[0]![t.offsetOf(e[i]!)] = i + 1;
    const pick = (ranges: KeyRange[]) => Array.from(t.exportRanges(ranges).keys);
    expect(pick([{ begin: 2n ** 32n - 1n, end: 2n ** 32n + 1n }])).toEqual([2n ** 32n - 1n, 2n ** 32n]);
    expect(pick([{ begin: 1n, end: 2n ** 32n }])).toEqual([2n ** 32n - 1n]);
    expect(pick([{ begin: 2n ** 32n + 1n, end: KEY_SPACE_END }])).toEqual([
      2n ** 32n + 1n,
      2n ** 33n,
      MAX_KEY,
    ]);
    expect(pick([{ begin: MAX_KEY, end: KEY_SPACE_END }])).toEqual([MAX_KEY]);
    expect(pick([{ begin: 0n, end: MAX_KEY }])).toEqual(Array.from(keys).slice(0, -1));
    expect(pick([])).toEqual([]);
    expect(pick([{ begin: 3n, end: 3n }])).toEqual([]);
  });

  it('rejects ranges that are unsorted, overlapping or out of the key space with PS_ERR_MESSAGE_INVALID', () => {
    const t = new KVTable();
    for (const ranges of [
      [
        { begin: 5n, end: 9n },
        { begin: 0n, end: 2n },
      ],
      [
        { begin: 0n, end: 5n },
        { begin: 4n, end: 9n },
      ],
      [{ begin: 5n, end: 4n }],
      [{ begin: -1n, end: 4n }],
      [{ begin: 0n, end: KEY_SPACE_END + 1n }],
      [{ begin: 0, end: 1 } as unknown as KeyRange],
    ]) {
      let err: unknown;
      try {
        t.exportRanges(ranges);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.MESSAGE_INVALID)).toBe(true);
    }
  });
});

describe('KVTable.importRanges', () => {
  it('sets the keys of the data, zeroes other keys inside the ranges, leaves keys outside untouched (property)', () => {
    fc.assert(
      fc.property(setupArb, rangesArb, newRowsArb, (s, ranges, rows) => {
        const { table, model } = build(s);
        const data = dataFor(s, model, ranges, rows);
        table.importRanges(ranges, data);
        applyImport(model, ranges, data);
        expect(table.size).toBe(model.size);
        expectMatches(table.exportRanges(ALL), model, ALL, s.states);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips: export from one table, import into another, export again (property)', () => {
    fc.assert(
      fc.property(setupArb, setupArb, rangesArb, (s, other, ranges) => {
        const { table: from } = build(s);
        // The target holds other keys; keys in the ranges are replaced, so only their lengths must agree.
        const { table: to, model } = build({ ...other, dtype: s.dtype, states: s.states, variable: true });
        const out = from.exportRanges(ranges);
        const conflict = Array.from(out.keys).some((k, i) => {
          const v = model.get(k);
          return v !== undefined && v[0]!.length !== out.lens[i];
        });
        if (conflict) {
          const before = plain(to.exportRanges(ALL));
          expect(() => to.importRanges(ranges, out)).toThrow(PsErrorCode.LENS_CONFLICT);
          expect(plain(to.exportRanges(ALL))).toEqual(before);
          return;
        }
        to.importRanges(ranges, out);
        applyImport(model, ranges, out);
        const back = to.exportRanges(ranges);
        // Keys the target held in the ranges and the data lacks come back as zeros.
        expectMatches(back, model, ranges, s.states);
        const nonzero = (r: TableRange) => {
          const p = plain(r);
          let o = 0;
          const keep: [bigint, number[][]][] = [];
          p.keys.forEach((k, i) => {
            const len = p.lens[i]!;
            const vals = p.slabs.map((sl) => sl.slice(o, o + len));
            o += len;
            if (!out.keys.includes(k) && vals.every((v) => v.every((x) => x === 0))) return;
            keep.push([k, vals]);
          });
          return keep;
        };
        expect(nonzero(back)).toEqual(nonzero(out));
      }),
      { numRuns: 200 },
    );
  });

  it('imports into an empty table exactly (float64, variable lengths)', () => {
    const src = new KVTable('float64', 2);
    const keys = BigUint64Array.of(9n, 2n ** 40n, 3n);
    const lens = Int32Array.of(1, 0, 3);
    const e = Int32Array.from(src.lookup(keys, true, 0, lens));
    const v = [0.1, 1e300, -2.5, Math.PI];
    let o = 0;
    keys.forEach((_, i) => {
      for (let j = 0; j < lens[i]!; j++, o++) {
        src.slabs[0]![src.offsetOf(e[i]!) + j] = v[o]!;
        src.slabs[1]![src.offsetOf(e[i]!) + j] = -v[o]!;
      }
    });
    const r = src.exportRanges(ALL);
    expect(Array.from(r.keys)).toEqual([3n, 9n, 2n ** 40n]);
    expect(Array.from(r.lens)).toEqual([3, 1, 0]);
    expect(Array.from(r.slabs[0]!)).toEqual([1e300, -2.5, Math.PI, 0.1]);
    expect(Array.from(r.slabs[1]!)).toEqual([-1e300, 2.5, -Math.PI, -0.1]);
    const dst = new KVTable('float64', 2);
    dst.importRanges(ALL, r);
    expect(plain(dst.exportRanges(ALL))).toEqual(plain(r));
    expect(dst.width).toBe(-1);
  });

  it('keeps table.width: a uniform import into an empty table serves pulls of that width', () => {
    const src = sumHandler();
    const keys = BigUint64Array.of(1n, 5n, 9n);
    const vals = Float32Array.of(1, 2, 3, 4, 5, 6);
    src({ sender: 'w', app: 0, ts: 0, push: true, pull: false, kv: { keys, vals } });
    const dst = sumHandler();
    dst.table.importRanges(ALL, src.table.exportRanges(ALL));
    expect(dst.table.width).toBe(2);
    const pull = {
      sender: 'w',
      app: 0,
      ts: 1,
      push: false,
      pull: true,
      kv: { keys, vals: new Float32Array(0) },
    };
    expect(Array.from(dst(pull)!.vals)).toEqual([1, 2, 3, 4, 5, 6]);
    // An import of another width makes the table variable-width, as a push of it would.
    dst.table.importRanges([{ begin: 100n, end: 200n }], {
      keys: BigUint64Array.of(150n),
      lens: Int32Array.of(3),
      slabs: [Float32Array.of(7, 8, 9)],
      dtype: 'float32',
      states: 1,
    });
    expect(dst.table.width).toBe(-1);
  });

  it('moves AdaGrad state: the importing server continues exactly where the exporter was', () => {
    const push = (h: ReturnType<typeof adagradHandler>, ts: number, g: number[]) =>
      h({
        sender: 'w',
        app: 0,
        ts,
        push: true,
        pull: true,
        kv: { keys: BigUint64Array.of(3n, 70n), vals: Float32Array.from(g) },
      })!.vals;
    const a = adagradHandler({ lr: 0.5 });
    push(a, 0, [1, -2, 0.5, 4]);
    push(a, 1, [-1, 1, 2, 2]);
    const b = adagradHandler({ lr: 0.5 });
    b.table.importRanges(ALL, a.table.exportRanges(ALL));
    expect(Array.from(push(b, 2, [0.25, 0.5, -1, 3]))).toEqual(Array.from(push(a, 2, [0.25, 0.5, -1, 3])));
  });

  it('throws PS_ERR_DTYPE for another dtype or number of states, and changes nothing', () => {
    const t = new KVTable('float32', 2);
    const ok: TableRange = {
      keys: BigUint64Array.of(1n),
      lens: Int32Array.of(1),
      slabs: [Float32Array.of(1), Float32Array.of(2)],
      dtype: 'float32',
      states: 2,
    };
    const bad = [
      { ...ok, dtype: 'float64' as const, slabs: [Float64Array.of(1), Float64Array.of(2)] },
      { ...ok, states: 1, slabs: [Float32Array.of(1)] },
      { ...ok, slabs: [Float32Array.of(1), Float64Array.of(2) as unknown as Float32Array] },
    ];
    for (const data of bad) {
      expect(() => t.importRanges(ALL, data)).toThrow(PsErrorCode.DTYPE);
      expect(t.size).toBe(0);
    }
    t.importRanges(ALL, ok);
    expect(t.size).toBe(1);
  });

  it('throws PS_ERR_MESSAGE_INVALID for keys outside the ranges, unsorted keys or lengths that do not add up, and changes nothing', () => {
    const t = new KVTable('float32', 1);
    t.importRanges(ALL, {
      keys: BigUint64Array.of(5n),
      lens: Int32Array.of(1),
      slabs: [Float32Array.of(3)],
      dtype: 'float32',
      states: 1,
    });
    const range = [{ begin: 0n, end: 10n }];
    const mk = (keys: bigint[], lens: number[], vals: number[]): TableRange => ({
      keys: BigUint64Array.from(keys),
      lens: Int32Array.from(lens),
      slabs: [Float32Array.from(vals)],
      dtype: 'float32',
      states: 1,
    });
    for (const data of [
      mk([5n, 10n], [1, 1], [1, 2]), // 10 is outside [0, 10)
      mk([7n, 6n], [1, 1], [1, 2]), // unsorted
      mk([6n, 6n], [1, 1], [1, 2]), // duplicate
      mk([6n, 7n], [1, 1], [1, 2, 3]), // lens add up to 2, slab holds 3
      mk([6n, 7n], [2, -1], [1]), // negative length
      { ...mk([6n], [1], [1]), lens: Int32Array.of(1, 1) }, // lens of another length
      { ...mk([6n], [1], [1]), slabs: [] }, // missing slab
    ]) {
      expect(() => t.importRanges(range, data)).toThrow(PsErrorCode.MESSAGE_INVALID);
      expect(Array.from(t.keys())).toEqual([5n]);
      expect(Array.from(t.exportRanges(ALL).slabs[0]!)).toEqual([3]);
    }
  });

  it('throws PS_ERR_LENS_CONFLICT before changing anything', () => {
    const t = new KVTable('float32', 1);
    t.importRanges(ALL, {
      keys: BigUint64Array.of(1n, 5n),
      lens: Int32Array.of(1, 2),
      slabs: [Float32Array.of(1, 2, 3)],
      dtype: 'float32',
      states: 1,
    });
    const data: TableRange = {
      keys: BigUint64Array.of(4n, 5n),
      lens: Int32Array.of(1, 1),
      slabs: [Float32Array.of(8, 9)],
      dtype: 'float32',
      states: 1,
    };
    expect(() => t.importRanges(ALL, data)).toThrow(PsErrorCode.LENS_CONFLICT);
    const r = t.exportRanges(ALL);
    expect(Array.from(r.keys)).toEqual([1n, 5n]);
    expect(Array.from(r.slabs[0]!)).toEqual([1, 2, 3]);
  });

  it('an empty import zeroes the ranges and inserts nothing', () => {
    const t = new KVTable('float64', 1);
    const e = Int32Array.from(t.lookup(BigUint64Array.of(1n, 20n), true, 1));
    t.slabs[0]![t.offsetOf(e[0]!)] = 4;
    t.slabs[0]![t.offsetOf(e[1]!)] = 5;
    const empty: TableRange = {
      keys: new BigUint64Array(0),
      lens: new Int32Array(0),
      slabs: [new Float64Array(0)],
      dtype: 'float64',
      states: 1,
    };
    t.importRanges([{ begin: 10n, end: KEY_SPACE_END }], empty);
    expect(Array.from(t.exportRanges(ALL).slabs[0]!)).toEqual([4, 0]);
    expect(t.width).toBe(1);
  });
});
