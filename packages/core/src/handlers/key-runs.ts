import type { KVTable } from '../store/kv-table.js';
import type { ValArray } from '../wire/kv-pairs.js';
import type { UpdateRule } from './table-handler.js';

/**
 * Fewest keys per run, on average, for a key list to be worked run by run rather than key by key.
 * A run costs a call or two of the rule (about 0.1 µs); measured on the handler alone, runs of 32
 * keys are even with the scattered path (push and pull faster, pushPull slower) and longer runs
 * are faster in all three (docs/benchmarks.md, "TCP: what each change bought", item 17).
 */
export const KEYS_PER_RUN = 32;

// Grown as needed and copied out: a list's runs are few, the scan's scratch is reused.
let scratch: Int32Array = new Int32Array(3 * 64);

/** The scratch with room for run `m` (0-based). */
function room(m: number): Int32Array {
  if (3 * m + 3 > scratch.length) {
    const grown = new Int32Array(scratch.length * 2);
    grown.set(scratch);
    scratch = grown;
  }
  return scratch;
}

/**
 * The stretches of contiguous values that a resolved key list forms: keys `i, i+1, ...` whose
 * entries hold `width` values each, laid end to end in the table's slabs. Returned as triples
 * `(first key index, value offset, key count)`, in key order, when there are at most
 * `max(1, floor(n / keysPerRun))` of them; `undefined` when there are more (the list is
 * scattered) or when a key holds another number of values than `width`.
 *
 * One pass over the entries, stopped as soon as the list has too many runs.
 * @param table the table the entries belong to
 * @param entries the entries of the list's keys (`n` of them, all present: `>= 0`)
 * @param n number of keys
 * @param width values per key the request gives (> 0)
 * @param keysPerRun fewest keys per run on average (default {@link KEYS_PER_RUN})
 */
export function findKeyRuns(
  table: KVTable,
  entries: Int32Array,
  n: number,
  width: number,
  keysPerRun = KEYS_PER_RUN,
): Int32Array | undefined {
  if (n === 0 || width <= 0) return undefined;
  const maxRuns = Math.max(1, Math.floor(n / keysPerRun));
  let runs = scratch;
  const e0 = entries[0]!;
  if (table.lengthOf(e0) !== width) return undefined;
  let start = 0;
  let first = table.offsetOf(e0);
  let next = first + width;
  let m = 0;
  for (let i = 1; i < n; i++) {
    const e = entries[i]!;
    const off = table.offsetOf(e);
    if (off === next && table.lengthOf(e) === width) {
      next += width;
      continue;
    }
    if (table.lengthOf(e) !== width || m + 1 >= maxRuns) return undefined;
    runs = room(m);
    runs[3 * m] = start;
    runs[3 * m + 1] = first;
    runs[3 * m + 2] = i - start;
    m++;
    start = i;
    first = off;
    next = off + width;
  }
  runs = room(m);
  runs[3 * m] = start;
  runs[3 * m + 1] = first;
  runs[3 * m + 2] = n - start;
  return runs.slice(0, 3 * m + 3);
}

/** A push run by run: `rule.apply` once per stretch of `runs` (see {@link findKeyRuns}). */
export function applyRuns(
  rule: UpdateRule,
  slabs: ValArray[],
  runs: Int32Array,
  width: number,
  vals: ValArray,
): void {
  for (let r = 0; r < runs.length; r += 3) {
    rule.apply(slabs, runs[r + 1]!, runs[r + 2]! * width, vals, runs[r]! * width);
  }
}

/** A pull run by run: `rule.read` of each stretch into its place in `out` (every value written). */
export function readRuns(
  rule: UpdateRule,
  slabs: ValArray[],
  runs: Int32Array,
  width: number,
  out: ValArray,
): void {
  for (let r = 0; r < runs.length; r += 3) {
    rule.read(slabs, runs[r + 1]!, runs[r + 2]! * width, out, runs[r]! * width);
  }
}

/**
 * Values a run needs before a pushPull fuses it (`applyRead` on views of `vals` and `out`): two
 * views cost about as much as applying and reading a few hundred values once more, so shorter
 * runs take `apply` then `read` (the values are in the cache by then).
 */
export const FUSED_MIN_VALUES = 1024;

/**
 * A pushPull run by run (every value of `out` written): `rule.applyRead` of each long stretch, on
 * the views of `vals` and `out` that belong to it, when the rule has it; else, and for stretches
 * under {@link FUSED_MIN_VALUES} values, `rule.apply` then `rule.read`.
 */
export function applyReadRuns(
  rule: UpdateRule,
  slabs: ValArray[],
  runs: Int32Array,
  width: number,
  vals: ValArray,
  out: ValArray,
): void {
  for (let r = 0; r < runs.length; r += 3) {
    const at = runs[r]! * width;
    const off = runs[r + 1]!;
    const len = runs[r + 2]! * width;
    if (rule.applyRead && len >= FUSED_MIN_VALUES) {
      rule.applyRead(slabs, off, len, vals.subarray(at, at + len), out.subarray(at, at + len));
    } else {
      rule.apply(slabs, off, len, vals, at);
      rule.read(slabs, off, len, out, at);
    }
  }
}
