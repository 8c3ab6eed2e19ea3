import { type KVPairs, type PullOptions, sealKeys } from '@ps/core';
import { type BenchCluster, crossesWire } from './bench-cluster.js';
import { type LatencyRow, percentile, summarize, type ThroughputRow } from './bench-stats.js';

/**
 * Lets timers run every 10 ms of requests. In one process a request loop is all promise
 * callbacks, which run before any timer: without a turn of the event loop no heartbeat goes out,
 * the server's lease lapses and it holds the requests (and, every timer being unref'd, the
 * process exits). A real program yields for I/O anyway.
 */
function yielder(): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < 10) return undefined;
    last = now;
    return new Promise<void>((resolve) => setImmediate(resolve));
  };
}

/** Bytes of payload one key moves in each op: keys and values, both ways. */
const PAYLOAD_BYTES_PER_KEY = { push: 8 + 4, pull: 8 + 4, pushPull: 8 + 4 + 4 } as const;

/** What a throughput row runs. */
export interface ThroughputSpec {
  op: 'push' | 'pull' | 'pushPull';
  keysPerRequest: number;
  inFlight: number;
  /** Timed runs (the median is reported); one untimed warm-up run comes first. */
  runs: number;
  /** Each run lasts at least this long (ms) and at least `minRequests` requests. */
  runMs: number;
  minRequests: number;
  /**
   * Pulled values go into a buffer of the lane's own, reused for every request
   * (`pull(keys, { into })`, `pushPull(kv, { into })`), instead of a fresh array per answer.
   */
  into?: boolean;
  /**
   * The key list is sealed once (`sealKeys`), so the worker trusts it by identity instead of
   * comparing it with a copy of the last list every request.
   */
  sealed?: boolean;
}

/**
 * Runs `op` with `inFlight` requests outstanding at all times, each of `keysPerRequest` float32
 * values (one per key), for `runs` timed runs; keys/s, payload and wire GB/s per run.
 */
export async function measureThroughput(
  c: BenchCluster,
  spec: ThroughputSpec,
  ceiling: { gbps: number; name: string; wire: boolean },
): Promise<ThroughputRow> {
  const n = spec.keysPerRequest;
  const list = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const keys = spec.sealed ? sealKeys(list) : list;
  const lanes = Array.from({ length: spec.inFlight }, () => ({
    kv: { keys, vals: new Float32Array(n).fill(1) } as KVPairs,
    opts: (spec.into ? { into: new Float32Array(n) } : {}) as PullOptions,
  }));
  const { worker, node } = c;
  const issue = ({ kv, opts }: (typeof lanes)[number]) =>
    spec.op === 'push'
      ? worker.wait(worker.push(kv, opts))
      : spec.op === 'pull'
        ? worker.wait(worker.pull(kv.keys, opts))
        : worker.wait(worker.pushPull(kv, opts));
  // The server must hold the keys before pulls mean anything.
  await worker.wait(worker.push(lanes[0]!.kv));
  const keysPerS: number[] = [];
  const wire: number[] = [];
  const breathe = yielder();
  for (let run = 0; run <= spec.runs; run++) {
    let requests = 0;
    const bytes0 = node.stats.bytesSent + node.stats.bytesReceived;
    const t0 = performance.now();
    const deadline = t0 + spec.runMs;
    await Promise.all(
      lanes.map(async (lane) => {
        // Bounded by time and by count.
        for (let i = 0; i < 100_000; i++) {
          if (performance.now() >= deadline && requests >= spec.minRequests) break;
          requests++;
          await issue(lane);
          await breathe();
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    if (run === 0) continue; // warm-up
    keysPerS.push((requests * n) / seconds);
    wire.push((node.stats.bytesSent + node.stats.bytesReceived - bytes0) / seconds / 1e9);
  }
  const s = summarize(keysPerS);
  const payload = (s.median * PAYLOAD_BYTES_PER_KEY[spec.op]) / 1e9;
  const wireMedian = summarize(wire).median;
  return {
    name: `${spec.op} ${c.transport} ${n} keys x${spec.inFlight}${spec.into ? ' into' : ''}${spec.sealed ? ' sealed' : ''}`,
    kind: 'throughput',
    transport: c.transport,
    op: spec.op,
    keys_per_request: n,
    in_flight: spec.inFlight,
    into: spec.into === true,
    sealed: spec.sealed === true,
    keys_per_s: s.median,
    payload_gbps: payload,
    wire_gbps: wireMedian,
    fraction_of_ceiling: (ceiling.wire ? wireMedian : payload) / ceiling.gbps,
    ceiling: ceiling.name,
    median: s.median,
    min: s.min,
    max: s.max,
    runs: spec.runs,
    unit: 'keys/s',
  };
}

/**
 * A 1-key pushPull round trip, `rounds` times after `warmup` rounds: median and p99 in µs. The
 * bench warms up 10,000 rounds: V8 compiles the request path's functions over the first
 * thousands (500 rounds measured that compilation, about 40 µs a round in process), and over TCP
 * the first 3,000 round trips of a fresh cluster have a p99 of 1.1–3.6 ms, with busy polling on
 * or off, and those after the 4,000th 0.07–0.41 ms (docs/benchmarks.md, "What is measured").
 */
export async function measureLatency(
  c: BenchCluster,
  rounds: number,
  ceilingUs: number,
  warmup = 10_000,
): Promise<LatencyRow> {
  const kv = { keys: new BigUint64Array([42n]), vals: new Float32Array([1]) };
  const { worker } = c;
  const samples: number[] = [];
  const breathe = yielder();
  for (let i = 0; i < rounds + warmup; i++) {
    const t0 = performance.now();
    await worker.wait(worker.pushPull(kv));
    if (i >= warmup) samples.push((performance.now() - t0) * 1000);
    await breathe();
  }
  const s = summarize(samples);
  return {
    name: `latency pushPull ${c.transport} 1 key`,
    kind: 'latency',
    transport: c.transport,
    op: 'pushPull',
    keys_per_request: 1,
    in_flight: 1,
    rounds,
    median_us: s.median,
    p99_us: percentile(samples, 99),
    min_us: s.min,
    max_us: s.max,
    // Only a round trip over the wire has a wire ceiling to compare with.
    fraction_of_ceiling: crossesWire(c.transport) ? ceilingUs / s.median : null,
    ceiling: crossesWire(c.transport) ? 'ceiling tcp loopback round trip' : 'none (no wire)',
  };
}
