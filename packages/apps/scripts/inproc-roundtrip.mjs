#!/usr/bin/env node
// The fixed cost of a request in one process: N-key pushPulls through createServer/createWorker
// over @ps/transport-inproc, one at a time, each timed. Run after `npm run build`:
//   node packages/apps/scripts/inproc-roundtrip.mjs [keysPerRequest] [rounds] [--into]
// Prints, for three rounds of `rounds` requests (the first includes V8's compilation of the
// path), the median and fastest round trip and the CPU time per request (process.cpuUsage,
// garbage collector threads included), the figure least disturbed on a shared machine.
import { sumHandler } from '@ps/core';
import { startInprocPair } from './inproc-pair.mjs';

const args = process.argv.slice(2).filter((a) => a !== '--into');
const n = Number(args[0] ?? 1);
const rounds = Number(args[1] ?? 20_000);
const { worker, end } = await startInprocPair(sumHandler({ denseRange: { count: 1 << 21 } }));
const kv = {
  keys: BigUint64Array.from({ length: n }, (_, i) => BigInt(i)),
  vals: new Float32Array(n).fill(1),
};
const opts = process.argv.includes('--into') ? { into: new Float32Array(n) } : undefined;
for (let rep = 0; rep < 3; rep++) {
  const samples = [];
  const c0 = process.cpuUsage();
  let turn = performance.now();
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await worker.wait(worker.pushPull(kv, opts));
    samples.push(performance.now() - t0);
    // Let timers run now and then: heartbeats must go out, or the server's lease lapses.
    if (performance.now() - turn > 10) {
      await new Promise((r) => setImmediate(r));
      turn = performance.now();
    }
  }
  const c = process.cpuUsage(c0);
  samples.sort((a, b) => a - b);
  const us = (ms) => (ms * 1000).toFixed(1);
  console.log(
    `${n} keys: median ${us(samples[samples.length >> 1])} µs, fastest ${us(samples[0])} µs, CPU ${((c.user + c.system) / rounds).toFixed(1)} µs/request`,
  );
}
await end();
process.exit(0);
