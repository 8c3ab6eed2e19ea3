import { sumHandler } from '@ps/core';
const n = 1_000_000;
const h = sumHandler({ denseRange: { count: 1 << 21 } });
const lists = [0, 1].map((s) => ({ keys: BigUint64Array.from({ length: n }, (_, i) => BigInt(i + s)), vals: new Float32Array(n).fill(1) }));
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 60; i++) h({ push: true, pull: true, kv: lists[i & 1], sender: 9 });
  console.log(((performance.now() - t0) * 1e6) / (60 * n), 'ns/key');
}
