import type { KVWorker } from '@ps/core';
import type { CountMinSketch } from './count-min-sketch.js';

/** Options of {@link pushSketchCounts}. */
export interface PushSketchCountsOptions {
  /** Items accumulated locally before one push. Default 65,536. */
  batchItems?: number;
}

/**
 * Streams `items` (uint32 ids, each counted once) into the sketch held by the servers: the
 * worker adds each batch into a local array of `sketch.size` counters, then pushes the counters
 * it touched (their keys sorted and unique, the counts as float64) for the servers to add
 * (`sumHandler({ dtype: 'float64' })`). One push is in flight while the next batch is counted.
 * Resolves when every push has been applied; returns the number of pushes.
 */
export async function pushSketchCounts(
  worker: KVWorker,
  sketch: CountMinSketch,
  items: Uint32Array,
  opts: PushSketchCountsOptions = {},
): Promise<number> {
  const batch = Math.max(1, opts.batchItems ?? 65_536);
  const local = new Float64Array(sketch.size);
  let previous: number | undefined;
  let pushes = 0;
  for (let start = 0; start < items.length; start += batch) {
    const end = Math.min(items.length, start + batch);
    for (let i = start; i < end; i++) sketch.addTo(local, items[i]!);
    let n = 0;
    for (let c = 0; c < local.length; c++) if (local[c] !== 0) n++;
    const keys = new BigUint64Array(n);
    const vals = new Float64Array(n);
    for (let c = 0, j = 0; c < local.length; c++) {
      if (local[c] === 0) continue;
      keys[j] = sketch.key(c);
      vals[j++] = local[c]!;
      local[c] = 0;
    }
    const ts = worker.push({ keys, vals });
    pushes++;
    if (previous !== undefined) await worker.wait(previous);
    previous = ts;
  }
  if (previous !== undefined) await worker.wait(previous);
  return pushes;
}
