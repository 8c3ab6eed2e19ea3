#!/usr/bin/env node
// `npm run bench`: throughput and latency of push, pull and pushPull over every transport,
// against the machine's ceilings measured in the same run (docs/benchmarks.md).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';
import { Command } from 'commander';
import {
  BENCH_TRANSPORTS,
  type BenchTransport,
  crossesWire,
  openBenchCluster,
  runThreadServer,
} from './bench/bench-cluster.js';
import { runBenchPeer } from './bench/bench-peer.js';
import type { BenchRow } from './bench/bench-stats.js';
import { resultsMarkdown, writeResults } from './bench/benchmarks-doc.js';
import { loopbackRoundTripCeiling, loopbackStreamCeiling, memcpyCeiling } from './bench/ceilings.js';
import { measureScaling, parseCounts, type ScalingRow, scalingMarkdown } from './bench/scaling.js';
import { measureLatency, measureThroughput } from './bench/throughput.js';

const script = fileURLToPath(import.meta.url);

async function main(): Promise<void> {
  const program = new Command()
    .name('bench')
    .option('--quick', 'a short run (seconds): fewer, shorter runs and at most 100,000 keys per request')
    .option('--json <file>', 'also write every row as JSON to this file')
    .option('--doc <file>', 'the Markdown file whose generated section is replaced', 'docs/benchmarks.md')
    .option('--no-doc', 'do not touch docs/benchmarks.md')
    .option(
      '--transports <list>',
      'comma-separated: inproc,threads,tcp,tcp-no-reuse (TCP without key-list reuse),ws,tcp-tls (TCP over TLS with a secret)',
      BENCH_TRANSPORTS.join(','),
    )
    .option(
      '--scaling',
      'only the scaling grid: every --servers count with every --workers count, each a process, over TCP',
    )
    .option('--servers <list>', 'server counts of the scaling grid', '1,2,4')
    .option('--workers <list>', 'worker counts of the scaling grid', '1,2,4')
    .option(
      '--keys <list>',
      'keys per request of the throughput rows, comma-separated (default 1000,1000000; --quick 1000,100000)',
    )
    .option('--ops <list>', 'comma-separated: push,pull,pushPull', 'push,pull,pushPull')
    .option('--no-latency', 'skip the 1-key round trip')
    .parse(process.argv);
  const o = program.opts<{
    quick?: boolean;
    json?: string;
    doc: string | false;
    transports: string;
    scaling?: boolean;
    servers: string;
    workers: string;
    keys?: string;
    ops: string;
    latency: boolean;
  }>();
  const quick = Boolean(o.quick);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (o.scaling) {
    await runScaling(o, quick, log);
    return;
  }
  const rows: BenchRow[] = [];
  const add = (r: BenchRow) => {
    rows.push(r);
    if (r.kind === 'ceiling') log(`${r.name}: ${r.median.toFixed(2)} ${r.unit}`);
    else if (r.kind === 'latency')
      log(`${r.name}: median ${r.median_us.toFixed(1)} µs, p99 ${r.p99_us.toFixed(1)} µs`);
    else
      log(
        `${r.name}: ${(r.keys_per_s / 1e6).toFixed(2)} M keys/s, wire ${r.wire_gbps.toFixed(3)} GB/s, ${(r.fraction_of_ceiling * 100).toFixed(1)}% of ceiling`,
      );
  };
  const memcpy = await memcpyCeiling(quick);
  add(memcpy);
  const stream = await loopbackStreamCeiling(script, quick);
  add(stream);
  const rtt = await loopbackRoundTripCeiling(script, quick);
  add(rtt);
  // The same ping-pong with both ends busy-polling, as the message layer does by default.
  add(await loopbackRoundTripCeiling(script, quick, true));
  const sizes = o.keys ? o.keys.split(',').map(Number) : quick ? [1000, 100_000] : [1000, 1_000_000];
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    log(`bench: --keys takes positive integers, got ${o.keys}`);
    process.exit(2);
  }
  const kinds = o.transports.split(',') as BenchTransport[];
  const known: readonly string[] = BENCH_TRANSPORTS;
  const unknown = kinds.filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    log(`bench: unknown transport ${unknown.join(', ')}; choose from ${known.join(', ')}`);
    process.exit(2);
  }
  const ops = o.ops.split(',') as ('push' | 'pull' | 'pushPull')[];
  const badOps = ops.filter((op) => !['push', 'pull', 'pushPull'].includes(op));
  if (badOps.length > 0) {
    log(`bench: unknown op ${badOps.join(', ')}; choose from push, pull, pushPull`);
    process.exit(2);
  }
  for (const kind of kinds) {
    const c = await openBenchCluster(kind, script);
    try {
      if (o.latency) add(await measureLatency(c, quick ? 300 : 10_000, rtt.median, quick ? 1000 : 10_000));
      const ceiling = crossesWire(kind)
        ? { gbps: stream.median, name: stream.name, wire: true }
        : { gbps: memcpy.median, name: memcpy.name, wire: false };
      const timing = { runs: quick ? 1 : 5, runMs: quick ? 60 : 400, minRequests: quick ? 2 : 8 };
      const largest = sizes[sizes.length - 1]!;
      for (const op of ops) {
        for (const keysPerRequest of sizes) {
          for (const inFlight of [1, 8]) {
            add(await measureThroughput(c, { op, keysPerRequest, inFlight, ...timing }, ceiling));
          }
        }
        // The largest pulls again, with the answer written into a buffer the caller reuses.
        if (op === 'push') continue;
        for (const inFlight of [1, 8]) {
          const spec = { op, keysPerRequest: largest, inFlight, into: true };
          add(await measureThroughput(c, { ...spec, ...timing }, ceiling));
        }
      }
      // In process, the per-key cost from 1 key up (the table in docs/benchmarks.md), into a
      // reused buffer, as a loop that pulls the same shape every step would.
      const sweep =
        kind === 'inproc' ? (quick ? [1, 100, 1000, 10_000] : [1, 10, 100, 1000, 10_000, 100_000]) : [];
      for (const keysPerRequest of sweep) {
        const spec = { op: 'pushPull' as const, keysPerRequest, inFlight: 1, into: true };
        add(await measureThroughput(c, { ...spec, ...timing }, ceiling));
      }
      // The same sweep with the key list sealed (`sealKeys`): what the store and the request path
      // cost once the worker need not compare the keys with its copy of them.
      const sealedSizes =
        kind === 'inproc' ? [...new Set([...sweep, ...(ops.includes('pushPull') ? [largest] : [])])] : [];
      for (const keysPerRequest of sealedSizes) {
        for (const inFlight of keysPerRequest === largest ? [1, 8] : [1]) {
          const spec = { op: 'pushPull' as const, keysPerRequest, inFlight, into: true, sealed: true };
          add(await measureThroughput(c, { ...spec, ...timing }, ceiling));
        }
      }
      // Over a wire, the largest requests with the key list sealed as well: a sealed list is
      // neither validated nor compared by the worker, and travels as a reference to the server's
      // copy (key-list reuse), which is what a loop with a fixed key set gets.
      if (crossesWire(kind)) {
        for (const op of ops) {
          for (const inFlight of [1, 8]) {
            const spec = { op, keysPerRequest: largest, inFlight, into: op !== 'push', sealed: true };
            add(await measureThroughput(c, { ...spec, ...timing }, ceiling));
          }
        }
      }
    } finally {
      await c.close();
    }
  }
  if (o.json) writeFileSync(o.json, `${JSON.stringify(rows, null, 2)}\n`);
  if (o.doc !== false) {
    const cpus = os.cpus();
    writeResults(
      o.doc,
      resultsMarkdown(rows, {
        date: new Date().toISOString().slice(0, 10),
        quick,
        node: process.version,
        cpus: `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}`,
      }),
    );
  }
  log(
    `${rows.length} rows${o.json ? `, JSON in ${o.json}` : ''}${o.doc !== false ? `, tables in ${o.doc}` : ''}`,
  );
}

/** `--scaling`: the grid of server and worker counts; a Markdown table on stdout (docs/benchmarks.md, "Scaling"). */
async function runScaling(
  o: { servers: string; workers: string; json?: string },
  quick: boolean,
  log: (s: string) => void,
): Promise<void> {
  let servers: number[];
  let workers: number[];
  try {
    servers = parseCounts('servers', o.servers);
    workers = parseCounts('workers', o.workers);
  } catch (err) {
    log(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  const rows: ScalingRow[] = [];
  for (const s of servers) {
    for (const w of workers) {
      const spec = { servers: s, workers: w, keysPerRequest: 100_000, inFlight: 2, runs: quick ? 1 : 3 };
      const row = await measureScaling(script, { ...spec, runMs: quick ? 300 : 1500 });
      rows.push(row);
      log(
        `${row.name}: ${(row.keys_per_s / 1e6).toFixed(2)} M keys/s (CPU per key: workers ${row.worker_cpu_ns_per_key.toFixed(1)} ns, servers ${row.server_cpu_ns_per_key.toFixed(1)} ns)`,
      );
    }
  }
  if (o.json) writeFileSync(o.json, `${JSON.stringify(rows, null, 2)}\n`);
  process.stdout.write(`${scalingMarkdown(rows)}\n`);
}

if (!isMainThread && (workerData as { benchRole?: string } | null)?.benchRole === 'thread-server') {
  await runThreadServer(workerData);
} else if (process.env.BENCH_ROLE) {
  await runBenchPeer(process.env.BENCH_ROLE);
} else {
  // Every timer of a node is unref'd: while a server holds requests (its lease lapsed on a
  // starved machine, until the next heartbeat answer) nothing else would keep the process alive.
  const keepAlive = setInterval(() => {}, 1000);
  await main();
  clearInterval(keepAlive);
  process.exit(0);
}
