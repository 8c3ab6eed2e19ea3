import type { KVRequest } from '../kv-server.js';
import type { DenseRange } from '../store/dense-range.js';
import { KeyListCache, type ResolvedKeys } from '../store/key-list-cache.js';
import { KVTable } from '../store/kv-table.js';
import { allocBytes } from '../wire/alloc-bytes.js';
import type { KVPairs, ValArray, ValDtype } from '../wire/kv-pairs.js';
import { takeAnswerBuffer } from '../wire/owned-answer.js';
import { applyReadRuns, applyRuns, findKeyRuns, readRuns } from './key-runs.js';

/**
 * An update rule of a table-backed handler: how a pushed value changes a key's state and what
 * a pull reads. State lives in `states` slabs of the same layout (slab 0 is usually the weight).
 */
export interface UpdateRule {
  readonly name: string;
  /** Value slabs per key (sum: 1; AdaGrad: 2; FTRL: 2). */
  readonly states: number;
  /** Applies the pushed values `vals[vi .. vi+len)` to the key whose values start at `off`. */
  apply(slabs: ValArray[], off: number, len: number, vals: ValArray, vi: number): void;
  /** Writes the key's visible values (the weights) into `out[oi .. oi+len)`. */
  read(slabs: ValArray[], off: number, len: number, out: ValArray, oi: number): void;
  /**
   * Optional fast path for scattered keys of one width: key i's values start at `offsets[i]` in
   * the slabs and at `i * width` in `vals`. Without it, `apply` runs once per key.
   */
  applyScattered?(slabs: ValArray[], offsets: Int32Array, width: number, vals: ValArray): void;
  /** Optional fast path for reading scattered keys of one width into `out[i * width ..]`. */
  readScattered?(slabs: ValArray[], offsets: Int32Array, width: number, out: ValArray): void;
  /**
   * Optional fused pushPull over one run: `apply` then `read` of the same `len` values at `off`,
   * in one pass (the values are touched once, not twice). Used when a pushPull's keys are one run.
   */
  applyRead?(slabs: ValArray[], off: number, len: number, vals: ValArray, out: ValArray): void;
  /**
   * Optional fused pushPull over scattered keys of one width (see `applyScattered`): key i's
   * pushed values `vals[i * width ..]` are applied and its new visible values written to
   * `out[i * width ..]`, in one pass.
   */
  applyReadScattered?(
    slabs: ValArray[],
    offsets: Int32Array,
    width: number,
    vals: ValArray,
    out: ValArray,
  ): void;
  /** The rule adds with the WebAssembly kernel when slab 0 lives in a `Float32Arena`. */
  readonly wasmSlab?: boolean;
  /**
   * True when no method keeps a reference to the `vals` or `out` arrays it is given (it reads
   * or writes them, then forgets them): the handler then takes large answers from
   * `largeBufferPool`, and the server gives them back once written. Every built-in rule is.
   */
  readonly retainsNoViews?: boolean;
}

/** Options shared by the built-in handlers. */
export interface TableHandlerOptions {
  /** Value dtype of the table (what pulls return). Default `float32`. */
  dtype?: ValDtype;
  /** Keys to size the table's hash part for up front (it grows by doubling). Default 1,024. */
  initialCapacity?: number;
  /**
   * Keys to store by index rather than by hash: a server whose keys live in a bounded range
   * (hashed features, `bucket << (64 - bits)`) gives it here and its lookups hash nothing. See
   * {@link DenseRange} for the layout, the memory it reserves and what happens to other keys.
   * Default: none (every key hashed).
   * @throws PsError `PS_ERR_CONFIG` (when the handler is made) for a range out of bounds.
   */
  denseRange?: DenseRange;
  /**
   * For a rule that can use it (the sum rule, float32): keep the values in WebAssembly memory and
   * add runs of 256 values or more with SIMD (f32x4). Default true; false keeps plain typed arrays.
   */
  simd?: boolean;
}

/** A request handler backed by a {@link KVTable}; the table is exposed for inspection and tests. */
export type TableHandler = ((req: KVRequest) => KVPairs | undefined) & {
  readonly table: KVTable;
  readonly rule: UpdateRule;
};

/**
 * Makes a request handler from an update rule: a push applies the rule per key (inserting
 * missing keys as zeros), a pull reads each key (a missing key reads as zeros: `width` values
 * in a fixed-width table, none in a table with variable lengths), a pushPull does both.
 */
export function tableHandler(rule: UpdateRule, opts: TableHandlerOptions = {}): TableHandler {
  const table = new KVTable(opts.dtype ?? 'float32', rule.states, opts.initialCapacity ?? 1024, {
    denseRange: opts.denseRange,
    wasmSlab: rule.wasmSlab === true && opts.simd !== false,
  });
  const cache = new KeyListCache();
  // Answers nobody but the server reads once returned: from the pool (see takeAnswerBuffer), when
  // the server says their memory comes back (`answerReturns`: TCP; not in process).
  const pooled = rule.retainsNoViews === true;
  /**
   * The entries of a request's keys: from the sender's last list when it is the same, else by
   * hash lookup; with `run` set when they form one contiguous stretch of values, `runs` when a
   * few (see {@link findKeyRuns}), `offsets` when they are scattered.
   */
  const resolve = (req: KVRequest, create: boolean, width: number, lens?: Int32Array): ResolvedKeys => {
    const { keys } = req.kv;
    if (!lens) {
      const hit = cache.get(req.sender, keys, req.keysTag);
      if (hit && hit.width === width) return hit;
    }
    const entries = table.lookup(keys, create, width, lens);
    const n = keys.length;
    if (lens) return { entries, width: -1, run: -1, complete: false };
    for (let i = 0; i < n; i++) {
      // A pull of a key the table does not hold: nothing to remember (a later push of the same
      // list must create the key, not reuse a missing entry).
      if (entries[i]! < 0) return { entries, width, run: -1, complete: false };
    }
    let runs = findKeyRuns(table, entries, n, width);
    const run = runs && runs.length === 3 ? runs[1]! : -1;
    if (run >= 0) runs = undefined;
    let offsets: Int32Array | undefined;
    if (!runs && run < 0 && (rule.applyScattered || rule.readScattered || rule.applyReadScattered)) {
      offsets = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const e = entries[i]!;
        if (table.lengthOf(e) !== width) {
          offsets = undefined;
          break;
        }
        offsets[i] = table.offsetOf(e);
      }
    }
    const resolved: ResolvedKeys = { entries, width, run, runs, offsets, complete: true };
    cache.set(req.sender, keys, resolved, req.keysTag);
    return resolved;
  };
  /** An answer of `n` values the handler writes whole: the request's `out`, else unzeroed. */
  const answerFor = (req: KVRequest, n: number): ValArray =>
    outFor(req, table.dtype, n) ?? allocUnzeroed(table.dtype, n, pooled && req.answerReturns === true);
  const handle = (req: KVRequest) => {
    const { keys, vals, lens } = req.kv;
    const n = keys.length;
    let pushed: ResolvedKeys | undefined;
    if (req.push && n > 0) {
      const width = lens ? 0 : vals.length / n;
      pushed = resolve(req, true, width, lens);
      const { entries, run, runs, offsets } = pushed;
      const slabs = table.slabs;
      if (req.pull && table.width === width && width > 0) {
        // One pass for the whole pushPull: the answer is every value just updated.
        if (run >= 0 && rule.applyRead) {
          const out = answerFor(req, n * width);
          rule.applyRead(slabs, run, n * width, vals, out);
          return { keys, vals: out };
        }
        if (runs) {
          const out = answerFor(req, n * width);
          applyReadRuns(rule, slabs, runs, width, vals, out);
          return { keys, vals: out };
        }
        if (offsets && rule.applyReadScattered) {
          const out = answerFor(req, n * width);
          rule.applyReadScattered(slabs, offsets, width, vals, out);
          return { keys, vals: out };
        }
      }
      if (run >= 0) rule.apply(slabs, run, n * width, vals, 0);
      else if (runs) applyRuns(rule, slabs, runs, width, vals);
      else if (offsets && rule.applyScattered) rule.applyScattered(slabs, offsets, width, vals);
      else {
        let vi = 0;
        for (let i = 0; i < n; i++) {
          const e = entries[i]!;
          const len = table.lengthOf(e);
          rule.apply(slabs, table.offsetOf(e), len, vals, vi);
          vi += len;
        }
      }
    }
    if (!req.pull) return undefined;
    // A table that has seen no push yet reads one zero per key.
    const fixed = table.width === undefined ? 1 : table.width >= 0 ? table.width || 1 : -1;
    const slabs = table.slabs;
    if (fixed > 0) {
      // A pushPull reads the very keys it just pushed: reuse their entries.
      const { entries, run, runs, offsets, complete } =
        pushed && pushed.width === fixed ? pushed : resolve(req, false, fixed);
      // With every key present each value of the answer is written, so it need not be zeroed.
      let out: ValArray;
      if (complete) out = answerFor(req, n * fixed);
      else {
        const given = outFor(req, table.dtype, n * fixed);
        out = given ? given.fill(0) : allocLike(table.dtype, n * fixed); // missing keys read as zero
      }
      if (run >= 0) rule.read(slabs, run, n * fixed, out, 0);
      else if (runs) readRuns(rule, slabs, runs, fixed, out);
      else if (offsets && rule.readScattered) rule.readScattered(slabs, offsets, fixed, out);
      else {
        for (let i = 0; i < n; i++) {
          const e = entries[i]!;
          if (e >= 0) rule.read(slabs, table.offsetOf(e), fixed, out, i * fixed);
        }
      }
      return { keys, vals: out };
    }
    const entries = table.lookup(keys, false);
    const outLens = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      const len = e >= 0 ? table.lengthOf(e) : 0;
      outLens[i] = len;
      total += len;
    }
    const out = allocLike(table.dtype, total);
    let oi = 0;
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      const len = outLens[i]!;
      if (e >= 0) rule.read(slabs, table.offsetOf(e), len, out, oi);
      oi += len;
    }
    return { keys, vals: out, lens: outLens };
  };
  return Object.assign(handle, { table, rule });
}

/** The request's answer buffer (`KVRequest.out`), when it has this dtype and length. */
function outFor(req: KVRequest, dtype: ValDtype, n: number): ValArray | undefined {
  const out = req.out;
  if (!out || out.length !== n) return undefined;
  return (dtype === 'float64' ? out instanceof Float64Array : out instanceof Float32Array) ? out : undefined;
}

function allocUnzeroed(dtype: ValDtype, n: number, pooled: boolean): ValArray {
  // Small arrays: one typed array is cheaper than a buffer and a view on it.
  if (n < 1024) return allocLike(dtype, n);
  const size = n * (dtype === 'float64' ? 8 : 4);
  const bytes = pooled ? takeAnswerBuffer(size) : allocBytes(size);
  return dtype === 'float64'
    ? new Float64Array(bytes.buffer, bytes.byteOffset, n)
    : new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

function allocLike(dtype: ValDtype, n: number): ValArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}
