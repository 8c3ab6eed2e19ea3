#!/usr/bin/env node
// RSS per stored key of a sum table (float32, one value per key): pushes 2^bits keys
// (`bucket << (64 - bits)`, as the SLR job's feature keys) in requests of 1,000,000 keys into
// one handler and reports the resident memory the table added, per key. Run after `npm run build`:
//   node packages/apps/scripts/store-rss.mjs [--bits 27] [--store dense|hash]
import { keyWords, sumHandler } from '@ps/core';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const bits = Number(opt('--bits', '27'));
const store = opt('--store', 'dense');
const total = 2 ** bits;
const shift = 64 - bits;
const batch = Math.min(1_000_000, total);
const keys = new BigUint64Array(batch);
const vals = new Float32Array(batch).fill(1);
const w = keyWords(keys);
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
const h = sumHandler(store === 'dense' ? { denseRange: { shift, count: total } } : { initialCapacity: 1024 });
const t0 = performance.now();
for (let start = 0; start < total; start += batch) {
  const n = Math.min(batch, total - start);
  const part = n === batch ? keys : keys.subarray(0, n);
  const pw = n === batch ? w : w.subarray(0, 2 * n);
  for (let i = 0; i < n; i++) {
    const b = start + i;
    // key = b << shift on two words (shift >= 32 for bits <= 32)
    pw[2 * i] = shift >= 32 ? 0 : (b << shift) >>> 0;
    pw[2 * i + 1] = shift >= 32 ? (b << (shift - 32)) >>> 0 : b >>> (32 - shift);
  }
  h({
    sender: 'w',
    app: 0,
    ts: 0,
    push: true,
    pull: false,
    kv: { keys: part, vals: n === batch ? vals : vals.subarray(0, n) },
  });
}
const seconds = (performance.now() - t0) / 1000;
globalThis.gc?.();
const rss1 = process.memoryUsage().rss;
if (h.table.size !== total) throw new Error(`stored ${h.table.size} keys, expected ${total}`);
console.log(
  `${store} store, 2^${bits} = ${total} keys stored in ${seconds.toFixed(1)} s: ` +
    `RSS +${((rss1 - rss0) / 2 ** 20).toFixed(0)} MiB = ${((rss1 - rss0) / total).toFixed(2)} B/key ` +
    `(process RSS ${(rss1 / 2 ** 20).toFixed(0)} MiB = ${(rss1 / total).toFixed(2)} B/key)`,
);
