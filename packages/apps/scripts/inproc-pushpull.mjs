#!/usr/bin/env node
// In-process pushPull of N keys (one float32 value each) through createServer/createWorker over
// @ps/transport-inproc, and the sum handler alone on the same keys: the store's share of the
// in-process path. Run after `npm run build`:
//   node packages/apps/scripts/inproc-pushpull.mjs [keysPerRequest ...] [--dense] [--no-simd]
//     [--miss] [--into] [--ms 400]
// --dense: the server's table has a dense range over the keys; --no-simd: plain typed arrays;
// --miss: alternate two key lists (shifted by one), so no request hits the key-list cache.
// --into: the end-to-end pushPull writes its answer into a reused buffer (`pushPull(kv, { into })`).
// Prints one line per size: M keys/s end to end and of the handler alone (wall clock), with the
// CPU time per key of each (process.cpuUsage: less disturbed than wall time on a shared machine).
import { sumHandler } from '@ps/core';
import { startInprocPair } from './inproc-pair.mjs';

const args = process.argv.slice(2);
const dense = args.includes('--dense');
const simd = !args.includes('--no-simd');
const miss = args.includes('--miss');
const useInto = args.includes('--into');
const msAt = args.indexOf('--ms');
const runMs = msAt >= 0 ? Number(args[msAt + 1]) : 400;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--ms').map(Number);
if (sizes.length === 0) sizes.push(1_000_000);
const handlerOpts = () =>
  dense ? { simd, denseRange: { base: 0n, count: 1 << 21 } } : { simd, initialCapacity: 1 << 21 };

/** Medians of 5 runs of at least `runMs` ms, each bounded to 1,000,000 calls: keys/s, CPU ns/key. */
async function rate(n, once) {
  await once();
  const wall = [];
  const cpu = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let calls = 0;
    let turn = performance.now();
    while (calls < 1_000_000 && (calls < 3 || performance.now() - t0 < runMs)) {
      await once();
      calls++;
      // Let timers run now and then: heartbeats must go out, or the scheduler declares nodes dead.
      if (performance.now() - turn > 10) {
        await new Promise((r) => setImmediate(r));
        turn = performance.now();
      }
    }
    const c = process.cpuUsage(c0);
    wall.push((calls * n) / ((performance.now() - t0) / 1000));
    cpu.push(((c.user + c.system) * 1000) / (calls * n));
  }
  const mid = (xs) => xs.sort((a, b) => a - b)[2];
  return { keysPerS: mid(wall), cpuNs: mid(cpu) };
}

const { worker, end } = await startInprocPair(sumHandler(handlerOpts()));
const alone = sumHandler(handlerOpts());
for (const n of sizes) {
  const lists = [0, 1].map((s) => ({
    keys: BigUint64Array.from({ length: n }, (_, i) => BigInt(i + s)),
    vals: new Float32Array(n).fill(1),
  }));
  let turn = 0;
  const next = () => lists[miss ? turn++ & 1 : 0];
  const opts = useInto ? { into: new Float32Array(n) } : undefined;
  const e2e = await rate(n, () => worker.wait(worker.pushPull(next(), opts)));
  const h = await rate(n, async () =>
    alone({ push: true, pull: true, kv: next(), sender: 9, keysTag: undefined }),
  );
  const f = (x) => `${(x.keysPerS / 1e6).toFixed(1)} M keys/s (CPU ${x.cpuNs.toFixed(2)} ns/key)`;
  console.log(`${n} keys: pushPull ${f(e2e)}; sum handler alone ${f(h)}`);
}
await end();
process.exit(0);
