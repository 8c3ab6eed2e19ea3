import type { ValArray } from './kv-pairs.js';
import { type TableHandler, type TableHandlerOptions, tableHandler } from './table-handler.js';

function readWeights(slabs: ValArray[], off: number, len: number, out: ValArray, oi: number): void {
  const w = slabs[0]!;
  for (let j = 0; j < len; j++) out[oi + j] = w[off + j]!;
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
      apply(slabs, off, len, vals, vi) {
        const w = slabs[0]!;
        for (let j = 0; j < len; j++) w[off + j]! += vals[vi + j]!;
      },
      read: readWeights,
    },
    opts,
  );
}
