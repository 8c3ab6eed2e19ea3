#!/usr/bin/env node
// Per-key cost of an in-process pushPull (createWorker to createServer over @ps/transport-inproc,
// sum handler, dense range, WebAssembly SIMD add, `{ into }`), by keys per request, beside what
// the same bytes cost to copy in the same run: is a large request's extra cost per key the
// memory system's? Run after `npm run build`:
//   node packages/apps/scripts/inproc-per-key.mjs [keysPerRequest ...] [--rounds 3] [--ms 300]
// Per size and round: CPU ns/key (process.cpuUsage, less disturbed than wall time on a shared
// machine) of pushPull with the key list as it is and sealed (`sealKeys`), and of copies with
// `TypedArray.set` of 8 B/key (the same traffic as a sealed pushPull's: it reads 4 B of pushed
// value and 4 B of slab, and writes 4 B of slab and 4 B of answer) and of 16 B/key. Medians over
// rounds. Beside them, the sum handler alone (called directly, answer into the reused buffer, a
// key-list cache hit): the store's share. On a build without `sealKeys` (to compare against
// one, copy this file and inproc-pair.mjs there) the sealed column reads NaN.
import * as core from '@ps/core';
import { startInprocPair } from './inproc-pair.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const rounds = opt('--rounds', 3);
const runMs = opt('--ms', 300);
const sizes = args.filter((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')).map(Number);
if (sizes.length === 0) sizes.push(10_000, 100_000, 1_000_000);

/** Calls `once()` for at least `ms` ms and `min` calls (at most 100,000): calls made. */
async function repeat(once, ms, min = 5) {
  const t0 = performance.now();
  let calls = 0;
  let turn = t0;
  while (calls < 100_000 && (calls < min || performance.now() - t0 < ms)) {
    await once();
    calls++;
    // Let timers run now and then: heartbeats must go out, or the scheduler declares nodes dead.
    if (performance.now() - turn > 10) {
      await new Promise((r) => setImmediate(r));
      turn = performance.now();
    }
  }
  return calls;
}

/**
 * CPU ns per key of `once()`, after an untimed warm-up of 5,000 calls (500 at 1,000,000 keys):
 * V8 compiles the request path over its first thousands of calls, which cost 2-3 times as much
 * per request at 10,000 keys.
 */
async function cpuPerKey(n, once) {
  await repeat(once, 0, Math.min(5000, Math.ceil(5e8 / n)));
  const c0 = process.cpuUsage();
  const calls = await repeat(once, runMs);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / (calls * n);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const { sumHandler } = core;
const handler = () => sumHandler({ denseRange: { count: 1 << 21 } });
const { worker, end } = await startInprocPair(handler());
const alone = handler();
const results = new Map(sizes.map((n) => [n, { plain: [], sealed: [], alone: [], copy8: [], copy16: [] }]));
for (let r = 0; r < rounds; r++) {
  for (const n of sizes) {
    const res = results.get(n);
    const plainKeys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
    const sealed = core.sealKeys?.(plainKeys.slice());
    const vals = new Float32Array(n).fill(1);
    const into = new Float32Array(n);
    res.plain.push(
      await cpuPerKey(n, () => worker.wait(worker.pushPull({ keys: plainKeys, vals }, { into }))),
    );
    res.sealed.push(
      sealed
        ? await cpuPerKey(n, () => worker.wait(worker.pushPull({ keys: sealed, vals }, { into })))
        : Number.NaN,
    );
    const req = {
      sender: 'w',
      app: 0,
      ts: 0,
      push: true,
      pull: true,
      kv: { keys: plainKeys, vals },
      out: into,
      keysTag: 1,
    };
    res.alone.push(await cpuPerKey(n, async () => alone(req)));
    const src8 = new Float32Array(2 * n).fill(2);
    const dst8 = new Float32Array(2 * n);
    res.copy8.push(await cpuPerKey(n, async () => dst8.set(src8)));
    const src16 = new Float32Array(4 * n).fill(3);
    const dst16 = new Float32Array(4 * n);
    res.copy16.push(await cpuPerKey(n, async () => dst16.set(src16)));
  }
}
console.log(
  'keys/request | pushPull ns/key | sealed ns/key | handler alone ns/key | copy 8 B/key ns | copy 16 B/key ns | sealed / copy 8 B',
);
for (const [n, res] of results) {
  const [p, s, h, c8, c16] = [res.plain, res.sealed, res.alone, res.copy8, res.copy16].map(median);
  console.log(
    `${n} | ${p.toFixed(3)} | ${s.toFixed(3)} | ${h.toFixed(3)} | ${c8.toFixed(3)} | ${c16.toFixed(3)} | ${(s / c8).toFixed(2)}`,
  );
}
await end();
process.exit(0);
