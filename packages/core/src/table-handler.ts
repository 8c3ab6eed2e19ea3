import type { KVPairs, ValArray, ValDtype } from './kv-pairs.js';
import type { KVRequest } from './kv-server.js';
import { KVTable } from './kv-table.js';

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
}

/** Options shared by the built-in handlers. */
export interface TableHandlerOptions {
  /** Value dtype of the table (what pulls return). Default `float32`. */
  dtype?: ValDtype;
  /** Keys to size the table for up front (it grows by doubling). Default 1,024. */
  initialCapacity?: number;
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
  const table = new KVTable(opts.dtype ?? 'float32', rule.states, opts.initialCapacity ?? 1024);
  const handle = (req: KVRequest) => {
    const { keys, vals, lens } = req.kv;
    const n = keys.length;
    if (req.push && n > 0) {
      const width = lens ? 0 : vals.length / n;
      const entries = table.lookup(keys, true, width, lens);
      const slabs = table.slabs;
      let vi = 0;
      for (let i = 0; i < n; i++) {
        const e = entries[i]!;
        const len = table.lengthOf(e);
        rule.apply(slabs, table.offsetOf(e), len, vals, vi);
        vi += len;
      }
    }
    if (!req.pull) return undefined;
    const entries = table.lookup(keys, false);
    // A table that has seen no push yet reads one zero per key.
    const fixed = table.width === undefined ? 1 : table.width >= 0 ? table.width || 1 : -1;
    const slabs = table.slabs;
    if (fixed > 0) {
      const out = allocLike(table.dtype, n * fixed);
      for (let i = 0; i < n; i++) {
        const e = entries[i]!;
        if (e >= 0) rule.read(slabs, table.offsetOf(e), fixed, out, i * fixed);
      }
      return { keys, vals: out };
    }
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

function allocLike(dtype: ValDtype, n: number): ValArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}
