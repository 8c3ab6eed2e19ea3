import type { KVWorker } from '@ps/core';
import type { CountMinSketch } from './count-min-sketch.js';

/**
 * The estimates of `items` (uint32 ids) from the sketch held by the servers: one pull of the
 * sorted unique counters the items hash to (at most d per item), then, per item, the minimum
 * of its d counters. Resolves to one estimate per item, in the order of `items`.
 */
export async function querySketch(
  worker: KVWorker,
  sketch: CountMinSketch,
  items: Uint32Array,
): Promise<Float64Array> {
  const wanted = new Uint8Array(sketch.size);
  for (const item of items) for (let r = 0; r < sketch.depth; r++) wanted[sketch.index(item, r)] = 1;
  const indexes: number[] = [];
  for (let c = 0; c < wanted.length; c++) if (wanted[c]) indexes.push(c);
  const keys = BigUint64Array.from(indexes, (c) => sketch.key(c));
  const pulled = await worker.wait(worker.pull(keys));
  const counters = new Float64Array(sketch.size);
  for (let j = 0; j < indexes.length; j++) counters[indexes[j]!] = Number(pulled.vals[j]);
  return Float64Array.from(items, (item) => sketch.estimateFrom(counters, item));
}
