import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPsError, type PsError, PsErrorCode } from '../errors.js';
import * as nodeEntry from '../node.js';
import { concatParts } from '../wire/frame-codec.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';
import type { ValDtype } from '../wire/kv-pairs.js';
import { KVTable } from './kv-table.js';
import { readSnapshot, writeSnapshot } from './snapshot-file.js';
import type { TableRange } from './table-range.js';
import {
  decodeSnapshotMeta,
  decodeTableRange,
  encodeTableRange,
  SNAPSHOT_VERSION,
  type SnapshotMeta,
} from './table-snapshot.js';

const MAX_KEY = KEY_SPACE_END - 1n;

const tableRangeArb = fc
  .record({
    dtype: fc.constantFrom<ValDtype>('float32', 'float64'),
    states: fc.integer({ min: 1, max: 3 }),
    rows: fc.uniqueArray(
      fc.tuple(
        fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: MAX_KEY })),
        fc.integer({ min: 0, max: 5 }),
      ),
      { selector: (r) => r[0], maxLength: 30 },
    ),
    seed: fc.integer(),
  })
  .map(({ dtype, states, rows, seed }): TableRange => {
    const sorted = [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const lens = Int32Array.from(sorted.map((r) => r[1]));
    const total = lens.reduce((a, b) => a + b, 0);
    const Ctor = dtype === 'float64' ? Float64Array : Float32Array;
    const slabs = Array.from({ length: states }, (_, s) => {
      const a = new Ctor(total);
      for (let j = 0; j < total; j++) a[j] = ((seed + s * 31 + j * 7) % 1000) / 8;
      return a;
    });
    return { keys: BigUint64Array.from(sorted.map((r) => r[0])), lens, slabs, dtype, states };
  });

const metaArb = fc.record({ app: fc.nat(), handler: fc.string({ maxLength: 20 }) });

const plain = (r: TableRange) => ({
  keys: Array.from(r.keys),
  lens: Array.from(r.lens),
  slabs: r.slabs.map((s) => [s.constructor.name, Array.from(s)]),
  dtype: r.dtype,
  states: r.states,
});

/** The ranges covering a table range's keys: the whole space, or each key alone. */
const rangesOf = (r: TableRange, whole: boolean): KeyRange[] =>
  whole ? [{ begin: 0n, end: KEY_SPACE_END }] : Array.from(r.keys, (k) => ({ begin: k, end: k + 1n }));

function sample(): { r: TableRange; meta: SnapshotMeta; ranges: KeyRange[] } {
  const t = new KVTable('float32', 2);
  const keys = BigUint64Array.of(3n, 2n ** 40n, 17n, MAX_KEY);
  const lens = Int32Array.of(2, 0, 3, 1);
  const e = Int32Array.from(t.lookup(keys, true, 0, lens));
  keys.forEach((_, i) => {
    for (let j = 0; j < lens[i]!; j++) {
      t.slabs[0]![t.offsetOf(e[i]!) + j] = i + j / 4;
      t.slabs[1]![t.offsetOf(e[i]!) + j] = -i;
    }
  });
  const ranges = [
    { begin: 0n, end: 100n },
    { begin: 2n ** 32n, end: KEY_SPACE_END },
  ];
  return { r: t.exportRanges(ranges), meta: { app: 3, handler: 'adagrad' }, ranges };
}

function snapshotError(f: () => unknown): PsError {
  try {
    f();
  } catch (e) {
    if (isPsError(e, PsErrorCode.SNAPSHOT)) return e;
    throw new Error(`expected PS_ERR_SNAPSHOT, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected PS_ERR_SNAPSHOT, nothing was thrown');
}

describe('encodeTableRange / decodeTableRange', () => {
  it('round-trips any table range with its meta, with and without ranges (property)', () => {
    fc.assert(
      fc.property(tableRangeArb, metaArb, fc.option(fc.boolean()), (r, meta, whole) => {
        const ranges = whole === null ? undefined : rangesOf(r, whole);
        const bytes = concatParts(encodeTableRange(r, meta, ranges));
        expect(bytes.byteLength % 8).toBe(0);
        const back = decodeTableRange(bytes);
        expect(back.meta).toEqual(meta);
        expect(back.ranges).toEqual(ranges);
        expect(plain(back.data)).toEqual(plain(r));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes into views of an aligned buffer, and into copies of an unaligned one', () => {
    const { r, meta, ranges } = sample();
    const bytes = concatParts(encodeTableRange(r, meta, ranges));
    const aligned = decodeTableRange(bytes);
    expect(aligned.data.keys.buffer).toBe(bytes.buffer);
    expect(aligned.data.slabs[1]!.buffer).toBe(bytes.buffer);
    for (const shift of [1, 4]) {
      const big = new Uint8Array(bytes.byteLength + shift);
      big.set(bytes, shift);
      const back = decodeTableRange(big.subarray(shift));
      expect(back.data.keys.buffer).not.toBe(big.buffer);
      expect(plain(back.data)).toEqual(plain(r));
      expect(back.ranges).toEqual(ranges);
    }
  });

  it('stores the header fields the format documents', () => {
    const { r, meta } = sample();
    const bytes = concatParts(encodeTableRange(r, meta));
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x50, 0x53, 0x54, 0x53]);
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(SNAPSHOT_VERSION);
    expect(decodeTableRange(bytes).ranges).toBeUndefined();
  });

  it('throws PS_ERR_SNAPSHOT for every truncation, never another error', () => {
    const { r, meta, ranges } = sample();
    const bytes = concatParts(encodeTableRange(r, meta, ranges));
    for (let n = 0; n < bytes.byteLength; n++) {
      snapshotError(() => decodeTableRange(bytes.slice(0, n)));
    }
  });

  it('throws PS_ERR_SNAPSHOT for every truncation of any snapshot (property)', () => {
    fc.assert(
      fc.property(tableRangeArb, metaArb, fc.boolean(), fc.nat(), (r, meta, whole, cut) => {
        const bytes = concatParts(encodeTableRange(r, meta, rangesOf(r, whole)));
        snapshotError(() => decodeTableRange(bytes.slice(0, cut % bytes.byteLength)));
      }),
      { numRuns: 300 },
    );
  });

  it('throws PS_ERR_SNAPSHOT or decodes a valid table range for any corrupted byte (property)', () => {
    const { r, meta, ranges } = sample();
    const bytes = concatParts(encodeTableRange(r, meta, ranges));
    fc.assert(
      fc.property(fc.nat({ max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = bytes.slice();
        b[at]! ^= x;
        try {
          const back = decodeTableRange(b);
          // What decodes is a table range a KVTable accepts.
          const t = new KVTable(back.data.dtype, back.data.states);
          t.importRanges(back.ranges ?? [{ begin: 0n, end: KEY_SPACE_END }], back.data);
        } catch (e) {
          if (!isPsError(e, PsErrorCode.SNAPSHOT)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('throws PS_ERR_SNAPSHOT for trailing bytes, bad magic, another version, and non-bytes', () => {
    const { r, meta, ranges } = sample();
    const bytes = concatParts(encodeTableRange(r, meta, ranges));
    const longer = new Uint8Array(bytes.byteLength + 8);
    longer.set(bytes);
    expect(snapshotError(() => decodeTableRange(longer)).message).toMatch(/after the last slab/);
    const magic = bytes.slice();
    magic[2] = 0x46;
    expect(snapshotError(() => decodeTableRange(magic)).message).toMatch(/magic/);
    const version = bytes.slice();
    new DataView(version.buffer).setUint32(4, SNAPSHOT_VERSION + 1, true);
    expect(snapshotError(() => decodeTableRange(version)).message).toMatch(/version 2/);
    snapshotError(() => decodeTableRange([1, 2, 3] as unknown as Uint8Array));
  });

  it('refuses to encode an inconsistent table range with PS_ERR_SNAPSHOT', () => {
    const { r, meta } = sample();
    const bad: TableRange[] = [
      { ...r, lens: Int32Array.from(r.lens, (l, i) => (i === 0 ? l + 1 : l)) },
      { ...r, slabs: [r.slabs[0]!] },
      { ...r, dtype: 'float64' },
      { ...r, lens: r.lens.subarray(1) },
      { ...r, lens: Int32Array.from(r.lens, (l, i) => (i === 0 ? -1 : l)) },
    ];
    for (const x of bad) snapshotError(() => encodeTableRange(x, meta));
    snapshotError(() => encodeTableRange(r, { app: -1, handler: 'x' }));
    snapshotError(() => encodeTableRange(r, { app: 1.5, handler: 'x' }));
    expect(() =>
      encodeTableRange(r, meta, [
        { begin: 5n, end: 6n },
        { begin: 0n, end: 1n },
      ]),
    ).toThrow(PsErrorCode.MESSAGE_INVALID);
  });

  it('refuses keys that are unsorted or outside the ranges, on encode and on decode, with PS_ERR_SNAPSHOT', () => {
    const { r, meta, ranges } = sample();
    expect(snapshotError(() => encodeTableRange(r, meta, [{ begin: 0n, end: 10n }])).message).toMatch(
      /outside/,
    );
    const swapped = { ...r, keys: BigUint64Array.from(r.keys).reverse() };
    expect(snapshotError(() => encodeTableRange(swapped, meta)).message).toMatch(/strictly increasing/);
    // Patch stored keys [3, 17, 2^40, 2^64-1]: key 1 becomes 273 (still sorted, outside both
    // ranges), then key 0 becomes equal to key 1.
    const bytes = concatParts(encodeTableRange(r, meta, ranges));
    const at = decodeTableRange(bytes).data.keys.byteOffset;
    const outside = bytes.slice();
    outside[at + 9] = 1;
    expect(snapshotError(() => decodeTableRange(outside)).message).toMatch(/outside/);
    const dup = bytes.slice();
    dup.copyWithin(at, at + 8, at + 16);
    expect(snapshotError(() => decodeTableRange(dup)).message).toMatch(/strictly increasing/);
  });
});

describe('writeSnapshot / readSnapshot', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ps-snapshot-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a snapshot that reads back equal, and leaves no temporary file', async () => {
    const { r, meta, ranges } = sample();
    const path = join(dir, 'app3.snap');
    await writeSnapshot(path, encodeTableRange(r, meta, ranges));
    const back = await readSnapshot(path);
    expect(back.meta).toEqual(meta);
    expect(back.ranges).toEqual(ranges);
    expect(plain(back.data)).toEqual(plain(r));
    expect(await readdir(dir)).toEqual(['app3.snap']);
  });

  it('replaces an existing snapshot; a leftover temporary file is never read', async () => {
    const { r, meta } = sample();
    const path = join(dir, 's');
    await writeSnapshot(path, encodeTableRange(r, meta));
    await writeFile(`${path}.tmp-1-deadbeef`, new Uint8Array([0x50, 0x53, 0x54]));
    const empty: TableRange = {
      keys: new BigUint64Array(0),
      lens: new Int32Array(0),
      slabs: [new Float32Array(0), new Float32Array(0)],
      dtype: 'float32',
      states: 2,
    };
    await writeSnapshot(path, encodeTableRange(empty, { app: 3, handler: 'adagrad' }));
    expect((await readSnapshot(path)).data.keys.length).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['s', 's.tmp-1-deadbeef']);
  });

  it('is atomic: a reader during a write sees the old snapshot or the whole new one', async () => {
    const path = join(dir, 'big');
    const { r: old, meta } = sample();
    await writeSnapshot(path, encodeTableRange(old, meta));
    const n = 1 << 20;
    const big: TableRange = {
      keys: BigUint64Array.from({ length: n }, (_, i) => BigInt(i)),
      lens: new Int32Array(n).fill(2),
      slabs: [Float32Array.from({ length: 2 * n }, (_, i) => i)],
      dtype: 'float32',
      states: 1,
    };
    // Many small parts make the write take many steps.
    const parts = encodeTableRange(big, meta).flatMap((p) => {
      const out: Uint8Array[] = [];
      for (let o = 0; o < p.byteLength; o += 1 << 16) out.push(p.subarray(o, o + (1 << 16)));
      return out;
    });
    let done = false;
    const writing = writeSnapshot(path, parts).finally(() => {
      done = true;
    });
    const seen = new Set<number>();
    while (!done) {
      const got = await readSnapshot(path);
      seen.add(got.data.keys.length);
    }
    await writing;
    seen.add((await readSnapshot(path)).data.keys.length);
    expect([...seen].every((k) => k === old.keys.length || k === n)).toBe(true);
    expect(seen.has(n)).toBe(true);
    const back = await readSnapshot(path);
    expect(back.data.slabs[0]![2 * n - 1]).toBe(2 * n - 1);
  });

  it('rejects with the fs error and leaves nothing behind when the directory does not exist', async () => {
    const { r, meta } = sample();
    const err = await writeSnapshot(join(dir, 'no', 'such'), encodeTableRange(r, meta)).catch(
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await readdir(dir)).toEqual([]);
    const missing = await readSnapshot(join(dir, 'absent')).catch((e: unknown) => e);
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('rejects a truncated file with PS_ERR_SNAPSHOT', async () => {
    const { r, meta } = sample();
    const path = join(dir, 't');
    await writeSnapshot(path, encodeTableRange(r, meta));
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.byteLength - 1));
    const err = await readSnapshot(path).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.SNAPSHOT)).toBe(true);
  });
});

describe('entry points', () => {
  it('carries the set a file belongs to; its meta reads from the header alone', async () => {
    const set = {
      run: 'r1-abc',
      ring: 3,
      servers: ['s-a', 's-b'],
      node: 's-b',
      writtenAt: 1_700_000_000_123,
    };
    const r = {
      keys: BigUint64Array.from([1n, 9n]),
      lens: Int32Array.from([1, 1]),
      slabs: [Float32Array.from([0.5, -2])],
      dtype: 'float32' as const,
      states: 1,
    };
    const parts = encodeTableRange(r, { app: 2, handler: 'sum', set });
    const bytes = concatParts(parts);
    expect(decodeTableRange(bytes).meta).toEqual({ app: 2, handler: 'sum', set });
    const headerOnly = bytes.subarray(0, parts[0]!.byteLength);
    expect(decodeSnapshotMeta(headerOnly)).toEqual({ app: 2, handler: 'sum', set });
    let short: unknown;
    try {
      decodeSnapshotMeta(headerOnly.subarray(0, 20));
    } catch (e) {
      short = e;
    }
    expect(isPsError(short, PsErrorCode.SNAPSHOT)).toBe(true);
    const need = (short as PsError).details?.need as number;
    expect(need).toBeGreaterThan(20);
    expect(need).toBeLessThanOrEqual(headerOnly.byteLength);
    expect(decodeSnapshotMeta(headerOnly.subarray(0, need)).set).toEqual(set);
    for (const bad of [
      { ...set, node: 's-c' },
      { ...set, run: '' },
      { ...set, servers: [] },
      { ...set, ring: -1 },
    ]) {
      expect(() => encodeTableRange(r, { app: 2, handler: 'sum', set: bad })).toThrow(/snapshot set/);
    }
  });

  it('@ps/core/node exports the disk functions; @ps/core exports the codec only', async () => {
    // The node entry also holds the cluster resolver from the environment (core/src/bootstrap).
    expect(Object.keys(nodeEntry)).toEqual(
      expect.arrayContaining([
        'readSnapshot',
        'readSnapshotMeta',
        'restoreServer',
        'snapshotServer',
        'writeSnapshot',
      ]),
    );
    const core = await import('../index.js');
    expect(typeof core.encodeTableRange).toBe('function');
    expect(typeof core.decodeTableRange).toBe('function');
    expect('writeSnapshot' in core).toBe(false);
  });

  const SRC_ROOT = new URL('../', import.meta.url);
  it('nothing reachable from index.ts imports a node: module (the browser build stays clean)', async () => {
    const seen = new Set<string>();
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = await readFile(new URL(file, SRC_ROOT), 'utf8');
      expect(src, `${file} imports a node: module`).not.toMatch(/^\s*(import|export)\b[^;]*from\s+'node:/m);
      for (const m of src.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'(\.[^']+)\.js'/gm)) {
        const rel = new URL(`${m[1]}.ts`, new URL(file, SRC_ROOT));
        await visit(`./${rel.pathname.split('/src/').pop()}`);
      }
    };
    await visit('./index.ts');
    expect(seen.has('./store/table-snapshot.ts')).toBe(true);
    expect(seen.has('./store/snapshot-file.ts')).toBe(false);
  });
});
