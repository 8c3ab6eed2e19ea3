// The dense range store against the hash table: the same operations on a table with and without
// a `denseRange` give the same answers, exactly (push/add, pull, missing keys, export/import of
// ranges, a snapshot round trip), whatever mix of in-range, off-grid and out-of-range keys.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { adagradHandler } from '../handlers/adagrad-handler.js';
import { sumHandler } from '../handlers/sum-handler.js';
import type { TableHandler } from '../handlers/table-handler.js';
import type { KVRequest } from '../kv-server.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import { keyWords } from '../wire/kv-pairs.js';
import { type DenseRange, denseKeyWords, denseLayout, denseSlot } from './dense-range.js';
import type { TableRange } from './table-range.js';
import { decodeTableRange, encodeTableRange } from './table-snapshot.js';

const MAX_KEY = KEY_SPACE_END - 1n;
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const sortedUnique = (xs: bigint[]) => BigUint64Array.from([...new Set(xs)].sort(cmp));

/** A dense range with its own keys' arbitrary: slots of the grid, off-grid and outside keys. */
const denseArb = fc
  .record({
    shift: fc.oneof(fc.constantFrom(0, 1, 31, 32, 33, 44, 63), fc.integer({ min: 0, max: 63 })),
    count: fc.integer({ min: 1, max: 200 }),
    width: fc.constantFrom(1, 1, 2),
    baseFrac: fc.bigInt({ min: 0n, max: MAX_KEY }),
    zeroBase: fc.boolean(),
  })
  .map(({ shift, count, width, baseFrac, zeroBase }) => {
    const span = BigInt(count - 1) << BigInt(shift);
    const room = KEY_SPACE_END - span; // base < room
    if (room <= 0n) return { shift, count: 1, width, base: 0n };
    return { shift, count, width, base: zeroBase ? 0n : baseFrac % room };
  });

const keyOf = (d: Required<DenseRange>, i: number) => d.base + (BigInt(i) << BigInt(d.shift));

const keyFor = (d: Required<DenseRange>) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: d.count - 1 }).map((i) => keyOf(d, i)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: d.count - 1 }).map((i) => (keyOf(d, i) + 1n) % KEY_SPACE_END),
    },
    {
      // Half a step off the grid: for shifts past 32 it differs in the high word only.
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: d.count - 1 })
        .map((i) => (keyOf(d, i) + (d.shift > 0 ? 1n << BigInt(d.shift - 1) : 1n)) % KEY_SPACE_END),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: MAX_KEY }) },
    { weight: 1, arbitrary: fc.constantFrom(0n, MAX_KEY, d.base === 0n ? 1n : d.base - 1n) },
  );

type Op =
  | { kind: 'push' | 'pushPull'; keys: bigint[]; width: number; vals: number[] }
  | { kind: 'pull'; keys: bigint[] }
  | { kind: 'export'; bounds: bigint[] }
  | { kind: 'import'; bounds: bigint[]; keys: bigint[]; vals: number[] };

const opsFor = (d: Required<DenseRange>) => {
  const keys = fc.array(keyFor(d), { maxLength: 24 });
  const vals = fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 48, maxLength: 48 });
  const bounds = fc.array(fc.oneof(keyFor(d), fc.constant(KEY_SPACE_END)), { maxLength: 4 });
  return fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constantFrom('push' as const, 'pushPull' as const),
        keys,
        width: fc.constantFrom(d.width, d.width, 3),
        vals,
      }),
      fc.record({ kind: fc.constant('pull' as const), keys }),
      fc.record({ kind: fc.constant('export' as const), bounds }),
      fc.record({ kind: fc.constant('import' as const), bounds, keys, vals }),
    ),
    { maxLength: 14 },
  );
};

const rangesOf = (bounds: bigint[]): KeyRange[] => {
  const b = [...new Set(bounds)].sort(cmp);
  const out: KeyRange[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push({ begin: b[i]!, end: b[i + 1]! });
  return out;
};

const req = (kv: KVRequest['kv'], push: boolean, pull: boolean): KVRequest => ({
  sender: 'w',
  app: 0,
  ts: 0,
  push,
  pull,
  kv,
});

/** Runs one op on a handler; returns what it answered (or the error code it threw). */
function run(h: TableHandler, op: Op): unknown {
  try {
    if (op.kind === 'pull') {
      const out = h(req({ keys: sortedUnique(op.keys), vals: new Float32Array(0) }, false, true))!;
      return { vals: [...out.vals], lens: out.lens && [...out.lens] };
    }
    if (op.kind === 'export') return plain(h.table.exportRanges(rangesOf(op.bounds)));
    if (op.kind === 'import') {
      const ranges = rangesOf(op.bounds);
      const inside = (k: bigint) => ranges.some((r) => k >= r.begin && k < r.end);
      const keys = sortedUnique(op.keys.filter(inside));
      const width = h.table.width !== undefined && h.table.width > 0 ? h.table.width : 1;
      const slab = () => Float32Array.from({ length: keys.length * width }, (_, i) => op.vals[i % 48]!);
      const data: TableRange = {
        keys,
        lens: new Int32Array(keys.length).fill(width),
        slabs: Array.from({ length: h.table.states }, slab),
        dtype: 'float32',
        states: h.table.states,
      };
      h.table.importRanges(ranges, data);
      return 'imported';
    }
    const keys = sortedUnique(op.keys);
    const vals = Float32Array.from({ length: keys.length * op.width }, (_, i) => op.vals[i % 48]!);
    const out = h(req({ keys, vals }, true, op.kind === 'pushPull'));
    return out ? { vals: [...out.vals], lens: out.lens && [...out.lens] } : 'pushed';
  } catch (e) {
    if (isPsError(e)) return e.code;
    throw e;
  }
}

const plain = (r: TableRange) => ({
  keys: [...r.keys],
  lens: [...r.lens],
  slabs: r.slabs.map((s) => [...s]),
});

const everything = [{ begin: 0n, end: KEY_SPACE_END }];

describe('dense range store', () => {
  it('maps slots to keys and back, and refuses keys off the grid (property)', () => {
    fc.assert(
      fc.property(denseArb, fc.nat(), (d, seed) => {
        const l = denseLayout(d);
        const i = seed % d.count;
        const w = new Uint32Array(2);
        denseKeyWords(l, i, w, 0);
        const key = keyWords(BigUint64Array.of(keyOf(d, i)));
        expect([...w]).toEqual([...key]);
        expect(denseSlot(l, w[0]!, w[1]!)).toBe(i);
        const off = keyWords(BigUint64Array.of((keyOf(d, i) + 1n) % KEY_SPACE_END));
        const back = denseSlot(l, off[0]!, off[1]!);
        // key + 1 is a slot only as the next slot of a range with shift 0.
        expect(back).toBe(d.shift === 0 && i + 1 < d.count ? i + 1 : -1);
      }),
      { numRuns: 500 },
    );
  });

  it('answers every operation sequence exactly as the hash table does (property)', () => {
    fc.assert(
      fc.property(
        denseArb.chain((d) => fc.tuple(fc.constant(d), opsFor(d), fc.boolean())),
        ([d, ops, adagrad]) => {
          const make = (denseRange?: DenseRange) =>
            adagrad
              ? adagradHandler({ lr: 0.5, denseRange })
              : sumHandler({ initialCapacity: 4, denseRange });
          const hashed = make();
          const dense = make(d);
          for (const op of ops) {
            expect(run(dense, op)).toEqual(run(hashed, op));
            expect(dense.table.size).toBe(hashed.table.size);
            expect(dense.table.width).toBe(hashed.table.width);
          }
          const all = dense.table.exportRanges(everything);
          expect(plain(all)).toEqual(plain(hashed.table.exportRanges(everything)));
          expect([...dense.table.keys()].sort(cmp)).toEqual([...hashed.table.keys()].sort(cmp));
          // Snapshot round trip into a fresh dense table, then every key read back.
          const bytes = encodeTableRange(all, { app: 0, handler: dense.rule.name }, everything);
          const decoded = decodeTableRange(new Uint8Array(Buffer.concat(bytes)));
          const restored = make(d);
          restored.table.importRanges(decoded.ranges!, decoded.data);
          expect(plain(restored.table.exportRanges(everything))).toEqual(plain(all));
          const probe: Op = { kind: 'pull', keys: [...all.keys, d.base, MAX_KEY] };
          expect(run(restored, probe)).toEqual(run(hashed, probe));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the dense keys out of the hash part: ascending keys, run lookups', () => {
    const h = sumHandler({ denseRange: { base: 0n, shift: 44, count: 1 << 20 } });
    const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i * 7) << 44n);
    const kv = { keys, vals: new Float32Array(1000).fill(0.5) };
    h(req(kv, true, false));
    const out = h(req(kv, true, true))!;
    expect(out.vals).toEqual(new Float32Array(1000).fill(1));
    const bias = h(req({ keys: BigUint64Array.of(MAX_KEY), vals: Float32Array.of(3) }, true, true))!;
    expect([...bias.vals]).toEqual([3]);
    expect(h.table.size).toBe(1001);
    expect(h.table.keys()[0]).toBe(0n);
    expect(h.table.keys()[1000]).toBe(MAX_KEY);
    expect(h.table.lookup(BigUint64Array.of(7n << 44n), false)[0]).toBe(7);
    expect(h.table.lookup(BigUint64Array.of(8n << 44n), false)[0]).toBe(-1);
  });

  it('refuses a range out of bounds with PS_ERR_CONFIG', () => {
    const bad: DenseRange[] = [
      { count: 0 },
      { count: 2 ** 30 + 1 },
      { count: 1.5 },
      { count: 4, shift: 64 },
      { count: 4, width: 0 },
      { count: 2 ** 29, width: 4 },
      { count: 3, shift: 63 },
      { count: 2, shift: 63, base: 2n ** 63n },
      { count: 1, base: -1n },
    ];
    for (const r of bad) {
      let code: string | undefined;
      try {
        sumHandler({ denseRange: r });
      } catch (e) {
        code = isPsError(e) ? e.code : 'other';
      }
      expect(
        code,
        JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toBe(PsErrorCode.CONFIG);
    }
  });
});
