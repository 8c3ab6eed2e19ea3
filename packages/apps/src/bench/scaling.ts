import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { PsError, PsErrorCode, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { startPeer, stopPeer } from './ceilings.js';

/** What every worker of a scaling row runs: pushPull of spread keys, `inFlight` at a time. */
export interface ScalingSpec {
  servers: number;
  workers: number;
  /** Keys of each request, spread evenly over the 64-bit key space (so every server gets a share). */
  keysPerRequest: number;
  inFlight: number;
  /** Timed runs (the median is reported); one untimed warm-up run comes first. */
  runs: number;
  /** Length of each run, in ms. */
  runMs: number;
}

/** One row of the scaling table: S servers and W workers, each a process, over TCP on 127.0.0.1. */
export interface ScalingRow {
  kind: 'scaling';
  name: string;
  servers: number;
  workers: number;
  keys_per_request: number;
  in_flight: number;
  /** Keys per second summed over the workers (median over runs), and the runs' min and max. */
  keys_per_s: number;
  min: number;
  max: number;
  /** CPU time (user + system) per key, in ns: all workers together, all servers together. */
  worker_cpu_ns_per_key: number;
  server_cpu_ns_per_key: number;
  runs: number;
}

/** What a bench worker process answers to a `run` message. */
interface RunReport {
  type: 'ran';
  keys: number;
  seconds: number;
  cpuUs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The process counts of a scaling grid, from a comma-separated list (`1,2,4`).
 * @throws PsError `PS_ERR_CONFIG` for an empty list or a count that is not an integer in 1–64.
 */
export function parseCounts(what: string, list: string): number[] {
  const counts = list.split(',').map((s) => Number(s.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `--${what} takes a comma-separated list of process counts from 1 to 64 (e.g. 1,2,4), not "${list}"`,
    );
  }
  return counts;
}

/** Asks a bench process for something over IPC and waits for the answer of `type`. */
async function ask<T>(child: ChildProcess, msg: object, type: string, ms = 120_000): Promise<T> {
  const answer = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`bench process ${child.pid} did not answer ${type}`)),
      ms,
    );
    const on = (m: { type?: string }) => {
      if (m?.type !== type) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
  });
  child.send(msg);
  return answer;
}

/**
 * Measures one scaling row: a scheduler in this process, `servers` server processes (the sum
 * handler) and `workers` worker processes, all over TCP on 127.0.0.1. Every worker runs pushPull
 * of the same `keysPerRequest` keys for `runMs`, all at once; the row sums their keys/s, and takes
 * the CPU time every process spent in the timed runs (`process.cpuUsage`). Every process is killed
 * by pid at the end.
 */
export async function measureScaling(script: string, spec: ScalingSpec): Promise<ScalingRow> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers: spec.servers,
    numWorkers: spec.workers,
    logger: quiet,
  });
  const env = { PS_SCHEDULER: `127.0.0.1:${scheduler.address.port}`, BENCH_TRANSPORT: 'tcp' };
  const servers: ChildProcess[] = [];
  const workers: ChildProcess[] = [];
  try {
    for (let i = 0; i < spec.servers; i++) servers.push((await startPeer(script, 'server', env)).child);
    for (let i = 0; i < spec.workers; i++) {
      const child = fork(script, [], {
        env: { ...process.env, ...env, BENCH_ROLE: 'worker' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      workers.push(child);
    }
    // Every worker says `ready` once the cluster filled; a cluster that does not fill fails the row.
    await Promise.all(
      workers.map((w) =>
        Promise.race([
          once(w, 'message'),
          new Promise((_, reject) =>
            setTimeout(
              () => reject(new Error(`bench worker ${w.pid} did not join within 120 s`)),
              120_000,
            ).unref(),
          ),
        ]),
      ),
    );
    const cpu = (c: ChildProcess) =>
      ask<{ type: 'cpu'; us: number }>(c, { type: 'cpu' }, 'cpu').then((m) => m.us);
    const rates: number[] = [];
    let keys = 0;
    let workerCpu = 0;
    let serverCpu = 0;
    for (let run = 0; run <= spec.runs; run++) {
      const s0 = await Promise.all(servers.map(cpu));
      const reports = await Promise.all(
        workers.map((w) =>
          ask<RunReport>(
            w,
            { type: 'run', keysPerRequest: spec.keysPerRequest, inFlight: spec.inFlight, runMs: spec.runMs },
            'ran',
          ),
        ),
      );
      const s1 = await Promise.all(servers.map(cpu));
      if (run === 0) continue; // warm-up
      rates.push(reports.reduce((a, r) => a + r.keys / r.seconds, 0));
      keys += reports.reduce((a, r) => a + r.keys, 0);
      workerCpu += reports.reduce((a, r) => a + r.cpuUs, 0);
      serverCpu += s1.reduce((a, us, i) => a + us - s0[i]!, 0);
    }
    await Promise.all(workers.map((w) => ask(w, { type: 'stop' }, 'stopped')));
    return {
      kind: 'scaling',
      name: `scaling tcp ${spec.servers} servers ${spec.workers} workers`,
      servers: spec.servers,
      workers: spec.workers,
      keys_per_request: spec.keysPerRequest,
      in_flight: spec.inFlight,
      keys_per_s: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      worker_cpu_ns_per_key: (workerCpu * 1000) / keys,
      server_cpu_ns_per_key: (serverCpu * 1000) / keys,
      runs: spec.runs,
    };
  } finally {
    await Promise.all([...workers, ...servers].map(stopPeer));
    await scheduler.shutdown();
  }
}

/** The scaling rows as a Markdown table: M keys/s (min–max) and the CPU time per key. */
export function scalingMarkdown(rows: readonly ScalingRow[]): string {
  const m = (x: number) => (x / 1e6).toFixed(2);
  return [
    '| servers | workers | M keys/s | min–max | worker CPU ns/key | server CPU ns/key |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.servers} | ${r.workers} | ${m(r.keys_per_s)} | ${m(r.min)}–${m(r.max)} | ${r.worker_cpu_ns_per_key.toFixed(1)} | ${r.server_cpu_ns_per_key.toFixed(1)} |`,
    ),
  ].join('\n');
}
