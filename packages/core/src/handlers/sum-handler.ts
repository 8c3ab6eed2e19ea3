import { ARENA_MIN_RUN, Float32Arena } from '../store/float32-arena.js';
import type { ValArray } from '../wire/kv-pairs.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

function readWeights(slabs: ValArray[], off: number, len: number, out: ValArray, oi: number): void {
  const w = slabs[0]!;
  if (len > 32 && out.constructor === w.constructor) {
    out.set(w.subarray(off, off + len), oi);
    return;
  }
  for (let j = 0; j < len; j++) out[oi + j] = w[off + j]!;
}

/** `w[off..off+len) += v[vi..vi+len)`, monomorphic so the JIT keeps it tight. */
function addFloat32(w: Float32Array, off: number, len: number, v: Float32Array, vi: number): void {
  let j = 0;
  // Unrolled by four: about 1.7 ns instead of 2.4 ns per value on this machine's V8.
  for (; j + 4 <= len; j += 4) {
    w[off + j]! += v[vi + j]!;
    w[off + j + 1]! += v[vi + j + 1]!;
    w[off + j + 2]! += v[vi + j + 2]!;
    w[off + j + 3]! += v[vi + j + 3]!;
  }
  for (; j < len; j++) w[off + j]! += v[vi + j]!;
}

/** `out[j] = (w[off + j] += v[j])` for `j < len`: a run's pushPull in one pass. */
function addReadFloat32(w: Float32Array, off: number, len: number, v: Float32Array, out: Float32Array): void {
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const a = w[off + j]! + v[j]!;
    const b = w[off + j + 1]! + v[j + 1]!;
    const c = w[off + j + 2]! + v[j + 2]!;
    const d = w[off + j + 3]! + v[j + 3]!;
    w[off + j] = a;
    w[off + j + 1] = b;
    w[off + j + 2] = c;
    w[off + j + 3] = d;
    out[j] = a;
    out[j + 1] = b;
    out[j + 2] = c;
    out[j + 3] = d;
  }
  for (; j < len; j++) {
    const a = w[off + j]! + v[j]!;
    w[off + j] = a;
    out[j] = a;
  }
}

function addScatteredFloat32(w: Float32Array, offsets: Int32Array, v: Float32Array): void {
  for (let i = 0; i < offsets.length; i++) w[offsets[i]!]! += v[i]!;
}

/** `slab0[offsets[i] + j] (op)= vals[i * width + j]`: the gather/scatter loops of sum and assign. */
export function scatter(
  slabs: ValArray[],
  offsets: Int32Array,
  width: number,
  vals: ValArray,
  add: boolean,
): void {
  const w = slabs[0]!;
  if (add && width === 1 && w instanceof Float32Array && vals instanceof Float32Array) {
    addScatteredFloat32(w, offsets, vals);
    return;
  }
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    const vi = i * width;
    if (add) for (let j = 0; j < width; j++) w[o + j]! += vals[vi + j]!;
    else for (let j = 0; j < width; j++) w[o + j] = vals[vi + j]!;
  }
}

function addReadScatteredFloat32(
  w: Float32Array,
  offsets: Int32Array,
  v: Float32Array,
  out: Float32Array,
): void {
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    const a = w[o]! + v[i]!;
    w[o] = a;
    out[i] = a;
  }
}

/** `out[i * width + j] = (slab0[offsets[i] + j] += vals[i * width + j])`: a scattered pushPull in one pass. */
export function scatterAddRead(
  slabs: ValArray[],
  offsets: Int32Array,
  width: number,
  vals: ValArray,
  out: ValArray,
): void {
  const w = slabs[0]!;
  if (
    width === 1 &&
    w instanceof Float32Array &&
    vals instanceof Float32Array &&
    out instanceof Float32Array
  ) {
    addReadScatteredFloat32(w, offsets, vals, out);
    return;
  }
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    const vi = i * width;
    for (let j = 0; j < width; j++) {
      const a = w[o + j]! + vals[vi + j]!;
      w[o + j] = a;
      out[vi + j] = a;
    }
  }
}

/** Reads slab 0 of scattered keys of one width into `out[i * width ..]`. */
export function gather(slabs: ValArray[], offsets: Int32Array, width: number, out: ValArray): void {
  const w = slabs[0]!;
  if (width === 1) {
    for (let i = 0; i < offsets.length; i++) out[i] = w[offsets[i]!]!;
    return;
  }
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    for (let j = 0; j < width; j++) out[i * width + j] = w[o + j]!;
  }
}

/** Reads slab 0 (the stored values) of a key; shared by the rules whose slab 0 is the weight. */
export const readSlab0 = readWeights;

/**
 * Plain aggregation (ps-lite's `KVServerDefaultHandle`): a push adds its values into the
 * stored ones (`stored[k] += pushed[k]`), a pull returns the sums. A missing key reads as zero.
 */
export function sumHandler(opts: TableHandlerOptions = {}): TableHandler {
  return tableHandler(
    {
      name: 'sum',
      states: 1,
      retainsNoViews: true,
      wasmSlab: true,
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        if (w instanceof Float32Array && vals instanceof Float32Array) {
          if (len >= ARENA_MIN_RUN && Float32Arena.of(w)?.addRun(off, len, vals.subarray(vi, vi + len)))
            return;
          addFloat32(w, off, len, vals, vi);
        } else for (let j = 0; j < len; j++) w[off + j]! += vals[vi + j]!;
      },
      read: readWeights,
      applyRead(slabs, off, len, vals, out) {
        const w = slabs[0]!;
        if (w instanceof Float32Array && vals instanceof Float32Array && out instanceof Float32Array) {
          if (len >= ARENA_MIN_RUN && Float32Arena.of(w)?.addRun(off, len, vals, out)) return;
          addReadFloat32(w, off, len, vals, out);
        } else {
          for (let j = 0; j < len; j++) w[off + j]! += vals[j]!;
          readWeights(slabs, off, len, out, 0);
        }
      },
      applyScattered: (slabs, offsets, width, vals) => scatter(slabs, offsets, width, vals, true),
      readScattered: gather,
      applyReadScattered: scatterAddRead,
    },
    opts,
  );
}
