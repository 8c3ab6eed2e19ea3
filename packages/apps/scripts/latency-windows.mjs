#!/usr/bin/env node
// The 1-key pushPull round trip of a fresh cluster, window by window: a scheduler and a worker
// in this process, a server with the sum handler in a child process (killed by pid at the end),
// over 127.0.0.1. Prints the median, p99 and p99.9 of the rounds after the warm-up, how many
// took longer than 0.5 and 1 ms, the p99 of every window of 1,000 rounds in order (where the
// tail of a fresh process ends), and both ends' busy-poll counts. Run after `npm run build`:
//   node packages/apps/scripts/latency-windows.mjs [--rounds 30000] [--warmup 0]
// PS_BUSY_POLL_US=0 turns busy polling off on both ends (the server inherits the environment).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BusyPoll, createServer, createWorker, Scheduler, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { Command } from 'commander';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const WINDOW = 1000;

if (process.env.LATENCY_ROLE === 'server') {
  process.on('disconnect', () => process.exit(0)); // the parent went away
  process.on('message', () => process.send?.(BusyPoll.shared.stats));
  const [host, port] = (process.env.PS_SCHEDULER ?? '').split(':');
  const { node } = await createServer({
    transport: tcp(),
    scheduler: { host, port: Number(port) },
    logger: quiet,
    handler: sumHandler({ initialCapacity: 1 << 21 }),
  });
  await node.terminated;
  process.exit(0);
}

const o = new Command()
  .option('--rounds <n>', 'round trips measured', '30000')
  .option('--warmup <n>', 'round trips before the measured ones', '0')
  .parse(process.argv)
  .opts();
const rounds = Number(o.rounds);
const warmup = Number(o.warmup);

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1, logger: quiet });
const child = fork(fileURLToPath(import.meta.url), [], {
  env: { ...process.env, LATENCY_ROLE: 'server', PS_SCHEDULER: `127.0.0.1:${scheduler.address.port}` },
});
try {
  const { node, worker } = await createWorker({
    transport: tcp(),
    scheduler: { host: '127.0.0.1', port: scheduler.address.port },
    logger: quiet,
  });
  const kv = { keys: BigUint64Array.of(42n), vals: Float32Array.of(1) };
  const samples = new Float64Array(rounds);
  for (let i = 0; i < warmup + rounds; i++) {
    const t0 = performance.now();
    await worker.wait(worker.pushPull(kv));
    if (i >= warmup) samples[i - warmup] = (performance.now() - t0) * 1000;
    // Let timers (heartbeats) run now and then, as the bench's loops do.
    if (i % 128 === 127) await new Promise((resolve) => setImmediate(resolve));
  }
  const at = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const all = samples.slice().sort();
  const windows = [];
  for (let i = 0; i + WINDOW <= rounds; i += WINDOW)
    windows.push(at(samples.slice(i, i + WINDOW).sort(), 0.99));
  const over = (us) => samples.filter((x) => x > us).length;
  const server = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 5000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.send('stats');
  });
  console.log(
    `${rounds} round trips after ${warmup}: median ${at(all, 0.5).toFixed(1)} µs, p99 ${at(all, 0.99).toFixed(0)} µs, ` +
      `p99.9 ${at(all, 0.999).toFixed(0)} µs, max ${all[all.length - 1].toFixed(0)} µs; ` +
      `${over(500)} over 0.5 ms, ${over(1000)} over 1 ms`,
  );
  console.log(`p99 of each ${WINDOW} rounds, in order (µs): ${windows.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`busy poll worker ${JSON.stringify(BusyPoll.shared.stats)} server ${JSON.stringify(server)}`);
  await node.finalize();
  await scheduler.terminated;
} finally {
  child.kill();
}
process.exit(0);
