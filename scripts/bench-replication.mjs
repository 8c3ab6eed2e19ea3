#!/usr/bin/env node
// Push throughput, push latency and server traffic with replicas, over real TCP on 127.0.0.1:
// a scheduler, --servers servers and --workers workers, each its own process, running the built
// packages (npm run build first). Each worker sends --pushes pushes of --keys float32 values
// (at most --in-flight outstanding) and times each from push() to its wait(). With --hot, every
// key falls in ranges mastered by one server (the first on the ring): the case where a master's
// own outgoing bandwidth is the bottleneck. One JSON line on stdout:
//   { replicas, hot, keysPerSec, p50Ms, p99Ms, serverBytesSent: {id: bytes}, masterBytesSent,
//     serverCpuMs: {id: ms}, counters: {id: replication counters} }
// masterBytesSent: with --hot, the bytes the hot master sent; else the largest of any server.
//   node scripts/bench-replication.mjs --servers 4 --workers 2 --replicas 2 --pushes 200 --keys 20000 [--hot]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

const self = fileURLToPath(import.meta.url);
const env = process.env;
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (env.PS_ROLE) await role();
else await drive();

async function role() {
  const { configFromEnv, createServer, createWorker, Scheduler, sumHandler } = await import('@ps/core');
  const { tcp } = await import('@ps/transport-tcp');
  const cfg = configFromEnv();
  if (cfg.role === 'scheduler') {
    const s = await Scheduler.start({
      transport: tcp(),
      host: cfg.host,
      port: 0,
      numServers: cfg.numServers,
      numWorkers: cfg.numWorkers,
      replicas: Number(env.BENCH_REPLICAS),
    });
    out({ event: 'listening', port: s.address.port });
    await s.terminated;
    return;
  }
  if (cfg.role === 'server') {
    const { node, servers } = await createServer({
      transport: tcp(),
      scheduler: cfg.scheduler,
      host: cfg.host,
      handler: sumHandler(),
    });
    await node.terminated;
    const cpu = process.cpuUsage();
    out({
      event: 'server',
      id: node.id,
      bytesSent: node.stats.bytesSent,
      cpuMs: (cpu.user + cpu.system) / 1000,
      counters: servers[0].replicas.counters,
    });
    process.exit(0);
  }
  const { node, worker } = await createWorker({ transport: tcp(), scheduler: cfg.scheduler });
  const pushes = Number(env.BENCH_PUSHES);
  const n = Number(env.BENCH_KEYS);
  const inFlight = Number(env.BENCH_IN_FLIGHT);
  const ring = node.view.ring;
  // Keys spread evenly over the key space, or over the ranges one server masters (--hot).
  const spans = env.BENCH_HOT
    ? ring.ranges().filter((r) => r.owner === ring.servers[0])
    : [{ begin: 0n, end: 1n << 64n }];
  const width = spans.reduce((s, r) => s + (r.end - r.begin), 0n);
  const keys = new BigUint64Array(n);
  let i = 0;
  for (const r of spans) {
    const share = Number(((r.end - r.begin) * BigInt(n)) / width);
    const step = (r.end - r.begin) / BigInt(share + 1);
    for (let j = 1; j <= share && i < n; j++) keys[i++] = r.begin + step * BigInt(j) + BigInt(node.rank);
  }
  const kv = { keys: keys.subarray(0, i), vals: new Float32Array(i).fill(1) };
  await node.barrier('workers');
  const lat = [];
  const started = performance.now();
  const window = [];
  for (let p = 0; p < pushes; p++) {
    const t0 = performance.now();
    const ts = worker.push(kv);
    window.push(worker.wait(ts).then(() => lat.push(performance.now() - t0)));
    if (window.length >= inFlight) await window.shift();
  }
  await Promise.all(window);
  const ms = performance.now() - started;
  await node.barrier('workers');
  out({ event: 'worker', keys: i * pushes, ms, lat });
  await node.finalize();
  process.exit(0);
}

async function drive() {
  const o = new Command()
    .option('--servers <n>', 'servers', '4')
    .option('--workers <n>', 'workers', '2')
    .option('--replicas <k>', 'replicas per range', '2')
    .option('--pushes <n>', 'pushes per worker', '200')
    .option('--keys <n>', 'keys per push', '20000')
    .option('--in-flight <n>', 'outstanding pushes per worker', '4')
    .option('--hot', 'every key in ranges mastered by one server')
    .parse(process.argv)
    .opts();
  const base = {
    ...env,
    PS_NUM_SERVERS: o.servers,
    PS_NUM_WORKERS: o.workers,
    PS_HOST: '127.0.0.1',
    BENCH_REPLICAS: o.replicas,
    BENCH_PUSHES: o.pushes,
    BENCH_KEYS: o.keys,
    BENCH_IN_FLIGHT: o.inFlight,
    ...(o.hot ? { BENCH_HOT: '1' } : {}),
  };
  const procs = [];
  const start = (extra) => {
    const p = spawn(process.execPath, [self], {
      env: { ...base, ...extra },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    procs.push(p);
    const lines = [];
    let buf = '';
    const waiters = [];
    p.stdout.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        lines.push(line);
        for (const w of waiters.splice(0)) w();
      }
    });
    const exited = new Promise((r) => p.on('exit', r));
    const next = async (event) => {
      for (;;) {
        const l = lines.find((x) => x.event === event);
        if (l) return l;
        const more = new Promise((r) => waiters.push(r));
        if ((await Promise.race([more.then(() => 'line'), exited.then(() => 'exit')])) === 'exit') {
          const last = lines.find((x) => x.event === event);
          if (last) return last;
          throw new Error(`a ${extra.PS_ROLE} exited before its ${event} line`);
        }
      }
    };
    return { next };
  };
  const timer = setTimeout(() => {
    for (const p of procs) p.kill('SIGKILL');
    process.stderr.write('bench-replication: no result in 10 minutes\n');
    process.exit(1);
  }, 600_000);
  try {
    const sched = start({ PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
    const { port } = await sched.next('listening');
    const at = { PS_SCHEDULER: `127.0.0.1:${port}` };
    const servers = Array.from({ length: Number(o.servers) }, () => start({ ...at, PS_ROLE: 'server' }));
    const workers = Array.from({ length: Number(o.workers) }, () => start({ ...at, PS_ROLE: 'worker' }));
    const w = await Promise.all(workers.map((x) => x.next('worker')));
    const s = await Promise.all(servers.map((x) => x.next('server')));
    const lat = w.flatMap((x) => x.lat).sort((a, b) => a - b);
    const q = (f) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))];
    const bytes = Object.fromEntries(s.map((x) => [x.id, x.bytesSent]));
    const hotId = [...s.map((x) => x.id)].sort()[0];
    out({
      replicas: Number(o.replicas),
      hot: Boolean(o.hot),
      keysPerSec: Math.round(w.reduce((n, x) => n + x.keys, 0) / (Math.max(...w.map((x) => x.ms)) / 1000)),
      p50Ms: Number(q(0.5).toFixed(2)),
      p99Ms: Number(q(0.99).toFixed(2)),
      serverBytesSent: bytes,
      masterBytesSent: o.hot ? bytes[hotId] : Math.max(...s.map((x) => x.bytesSent)),
      serverCpuMs: Object.fromEntries(s.map((x) => [x.id, Math.round(x.cpuMs)])),
      counters: Object.fromEntries(s.map((x) => [x.id, x.counters])),
    });
  } finally {
    clearTimeout(timer);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}
