#!/usr/bin/env node
// CPU time per request on both ends of a TCP pushPull, pull or push: a scheduler and a worker
// in this process, a server with the sum handler in a child process (killed by pid at the end),
// over 127.0.0.1. On a shared machine wall-clock rates move with the load; the CPU time each
// process spends per request (process.cpuUsage here, /proc/<pid>/stat for the server, 10 ms
// ticks) moves far less. Run after `npm run build`:
//   node packages/apps/scripts/tcp-cpu.mjs [--op pushPull|pull|push] [--keys 1000000]
//     [--requests 20] [--in-flight 1] [--no-reuse] [--sealed] [--into] [--first <key>]
//     [--rounds 3] [--each]
// --no-reuse: keyListReuse: false on both ends (every request carries its keys).
// --sealed: the (never changed) key list is passed to `sealKeys` once.
// --into: pulls and pushPulls write their values into a buffer of the caller's (`{ into }`).
// --first: push this one key before the list, as the bench's latency row does (key 42): the
//   server's table then holds it first, and the list's keys form three runs of entries, not one.
// --rounds: timed rounds of --requests each (the median is printed); --each also prints every
//   round's rate and CPU per request, in order (how a long run drifts).
// PS_BUSY_POLL_US=0 turns busy polling off on both ends (the server inherits the environment).
// Prints the median of the rounds: M keys/s, µs per request, CPU ms per request of the worker and
// of the server (with the part spent in the kernel), the bytes the worker sent and received per request,
// and the minor page faults per request of both (memory touched for the first time: fresh buffers).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '@ps/core';
import { createServer, createWorker, Scheduler, sealKeys, sumHandler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { Command } from 'commander';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

if (process.env.TCP_CPU_ROLE === 'server') {
  process.on('disconnect', () => process.exit(0)); // the parent went away
  // The parent asks for the server's pool counts at the end (builds that have a pool).
  process.on('message', () =>
    process.send?.({ pool: core.largeBufferPool?.stats ?? null, poll: core.BusyPoll?.shared.stats ?? null }),
  );
  const [host, port] = (process.env.PS_SCHEDULER ?? '').split(':');
  const { node } = await createServer({
    transport: tcp(),
    scheduler: { host, port: Number(port) },
    logger: quiet,
    handler: sumHandler({ initialCapacity: 1 << 21 }),
    ...(process.env.TCP_CPU_REUSE === '0' ? { keyListReuse: false } : {}),
  });
  await node.terminated;
  process.exit(0);
}

const o = new Command()
  .option('--op <op>', 'pushPull, pull or push', 'pushPull')
  .option('--keys <n>', 'keys per request', '1000000')
  .option('--requests <n>', 'requests per round', '20')
  .option('--in-flight <n>', 'requests outstanding', '1')
  .option('--no-reuse', 'turn key-list reuse off on both ends')
  .option('--sealed', 'seal the unchanged key list once (sealKeys)')
  .option('--into', "pull and pushPull into a buffer of the caller's")
  .option('--first <key>', 'push this one key before the list (the bench pushes 42 first)')
  .option('--rounds <n>', 'timed rounds (the median is printed)', '3')
  .option('--each', "print every round's figures too, in order")
  .parse(process.argv)
  .opts();
const n = Number(o.keys);
const reqs = Number(o.requests);
const inFlight = Number(o.inFlight);
const reuse = o.reuse ? {} : { keyListReuse: false };
const nRounds = Number(o.rounds);
if (!Number.isInteger(nRounds) || nRounds < 1 || nRounds > 10_000) {
  console.error(`tcp-cpu: --rounds takes an integer from 1 to 10000, got ${o.rounds}`);
  process.exit(2);
}

/** CPU ms a process has used, user and system, and its minor page faults, from /proc (Linux). */
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10, faults: Number(f[7]) };
};

const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1, logger: quiet });
const child = fork(fileURLToPath(import.meta.url), [], {
  env: {
    ...process.env,
    TCP_CPU_ROLE: 'server',
    TCP_CPU_REUSE: o.reuse ? '1' : '0',
    PS_SCHEDULER: `127.0.0.1:${scheduler.address.port}`,
  },
});
try {
  const { node, worker } = await createWorker({
    transport: tcp(),
    scheduler: { host: '127.0.0.1', port: scheduler.address.port },
    logger: quiet,
    ...reuse,
  });
  const list = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const keys = o.sealed ? sealKeys(list) : list;
  const kv = { keys, vals: new Float32Array(n).fill(1) };
  // Shared by the requests in flight: the values are not read here.
  const into = o.into ? { into: new Float32Array(n) } : undefined;
  const issue = () =>
    o.op === 'push'
      ? worker.wait(worker.push(kv))
      : o.op === 'pull'
        ? worker.wait(worker.pull(keys, into))
        : worker.wait(worker.pushPull(kv, into));
  if (o.first !== undefined) {
    await worker.wait(worker.push({ keys: BigUint64Array.of(BigInt(o.first)), vals: Float32Array.of(1) }));
  }
  await worker.wait(worker.push(kv));
  for (let i = 0; i < 5; i++) await issue();
  const rounds = [];
  for (let r = 0; r < nRounds; r++) {
    const sent0 = node.stats.bytesSent;
    const recv0 = node.stats.bytesReceived;
    const cpu0 = process.cpuUsage();
    const faults0 = process.resourceUsage().minorPageFault;
    const server0 = cpuOf(child.pid);
    const t0 = performance.now();
    let left = reqs;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (left-- > 0) await issue();
      }),
    );
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const faults = process.resourceUsage().minorPageFault - faults0;
    const server1 = cpuOf(child.pid);
    rounds.push({
      mkeys: (reqs * n) / wall / 1000,
      us: (wall * 1000) / reqs,
      worker: (cpu.user + cpu.system) / 1000 / reqs,
      workerSys: cpu.system / 1000 / reqs,
      server: (server1.user + server1.system - server0.user - server0.system) / reqs,
      serverSys: (server1.system - server0.system) / reqs,
      workerFaults: faults / reqs,
      serverFaults: (server1.faults - server0.faults) / reqs,
      sent: (node.stats.bytesSent - sent0) / reqs,
      recv: (node.stats.bytesReceived - recv0) / reqs,
    });
  }
  if (o.each) {
    console.log(
      `rounds (M keys/s @ worker / server CPU ms per request): ${rounds.map((x) => `${x.mkeys.toFixed(1)} @ ${x.worker.toFixed(3)} / ${x.server.toFixed(3)}`).join(', ')}`,
    );
  }
  rounds.sort((a, b) => a.mkeys - b.mkeys);
  const m = rounds[Math.floor(rounds.length / 2)];
  console.log(
    `${o.op} ${n} keys x${inFlight} reuse=${o.reuse}${o.sealed ? ' sealed' : ''}${o.into ? ' into' : ''}${o.first !== undefined ? ` first=${o.first}` : ''}: ${m.mkeys.toFixed(1)} M keys/s, ${m.us.toFixed(0)} µs/request, ` +
      `CPU ms/request worker ${m.worker.toFixed(3)} (system ${m.workerSys.toFixed(3)}) server ${m.server.toFixed(3)} (system ${m.serverSys.toFixed(3)}), ` +
      `sent ${m.sent.toFixed(0)} B, received ${m.recv.toFixed(0)} B per request, ` +
      `minor page faults/request worker ${m.workerFaults.toFixed(0)} server ${m.serverFaults.toFixed(0)}`,
  );
  // The worker's pool of large buffers (builds that have one).
  if (core.largeBufferPool) {
    const server = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 5000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send('stats');
    });
    console.log(
      `largeBufferPool worker ${JSON.stringify(core.largeBufferPool.stats)} server ${JSON.stringify(server?.pool ?? null)}`,
    );
    // Busy polling (builds that have it): spins, events caught while spinning, pauses when crowded.
    if (core.BusyPoll) {
      console.log(
        `busy poll worker ${JSON.stringify(core.BusyPoll.shared.stats)} server ${JSON.stringify(server?.poll ?? null)}`,
      );
    }
  }
  await node.finalize();
  await scheduler.terminated;
} finally {
  child.kill();
}
process.exit(0);
