/** Median, min and max of a list of samples (the list is not changed). */
export function summarize(samples: readonly number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** The p-th percentile (0..100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

/** One throughput measurement (a row of the JSON report). */
export interface ThroughputRow {
  name: string;
  kind: 'throughput';
  transport: string;
  op: 'push' | 'pull' | 'pushPull';
  keys_per_request: number;
  in_flight: number;
  /** Pulled values went into a reused buffer of the caller's (`{ into }`), not a fresh array. */
  into: boolean;
  /** The key list was sealed once (`sealKeys`): trusted by identity, not compared per request. */
  sealed: boolean;
  /** Median over runs of keys moved per second. */
  keys_per_s: number;
  /** Median payload (keys and values) in GB/s (1e9 bytes). */
  payload_gbps: number;
  /** Median bytes the worker's transport moved both ways, GB/s. */
  wire_gbps: number;
  /** The row's figure over its ceiling (see docs/benchmarks.md). */
  fraction_of_ceiling: number;
  ceiling: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  unit: 'keys/s';
}

/** One latency measurement. */
export interface LatencyRow {
  name: string;
  kind: 'latency';
  transport: string;
  op: 'pushPull';
  keys_per_request: number;
  in_flight: 1;
  rounds: number;
  median_us: number;
  p99_us: number;
  min_us: number;
  max_us: number;
  /** TCP: the raw loopback round trip over this median (1 = as fast as the wire allows); else null. */
  fraction_of_ceiling: number | null;
  ceiling: string;
}

/** One ceiling of the machine, measured in the same run. */
export interface CeilingRow {
  name: string;
  kind: 'ceiling';
  /** Bytes per second, or microseconds for a round trip. */
  value: number;
  unit: 'GB/s' | 'us';
  median: number;
  min: number;
  max: number;
  runs: number;
  p99?: number;
}

export type BenchRow = ThroughputRow | LatencyRow | CeilingRow;
