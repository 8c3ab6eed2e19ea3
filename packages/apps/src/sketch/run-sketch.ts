import {
  consoleLogger,
  createServer,
  createWorker,
  logLevelFromEnv,
  PsError,
  PsErrorCode,
  Scheduler,
  seededRandom,
  sumHandler,
} from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { tokenize } from '../data/hash-features.js';
import { CountMinSketch } from './count-min-sketch.js';
import { itemId } from './item-id.js';
import { pushSketchCounts } from './push-sketch-counts.js';
import { querySketch } from './query-sketch.js';

/** Options of {@link runSketch}. */
export interface RunSketchOptions {
  /** The documents whose word bigrams are counted (tokens as `tokenize` splits them). */
  texts: readonly string[];
  epsilon: number;
  delta: number;
  /** Server nodes holding the sketch's rows. Default 2. */
  servers?: number;
  /** Worker nodes, each streaming a contiguous share of the documents. Default 2. */
  workers?: number;
  /** Seed of the hashes and of the query sample. Default 1. */
  seed?: number;
  /** Distinct bigrams sampled for the queries (besides the top ones). Default 10,000. */
  sample?: number;
  /** The true top bigrams queried, and the size of the heavy-hitter sets compared. Default 100. */
  top?: number;
  /**
   * How the nodes (all in this process) talk: `inproc` (the in-process transport, the default)
   * or `tcp` (real sockets on 127.0.0.1).
   */
  transport?: 'inproc' | 'tcp';
  /** Items per push. Default 65,536. */
  batchItems?: number;
}

/** What {@link runSketch} measured (the `pskv sketch --json` summary, snake case). */
export interface SketchSummary {
  epsilon: number;
  delta: number;
  width: number;
  depth: number;
  servers: number;
  workers: number;
  transport: 'inproc' | 'tcp';
  /** Items inserted: every bigram occurrence in the corpus. */
  N: number;
  distinct: number;
  /** Items queried: the sample and the true top ones. */
  queried: number;
  /** Share of the queried items whose estimate ≤ true + εN. */
  fraction_within_bound: number;
  /** Queried items whose estimate was below the true count (a count-min sketch never does this: 0). */
  underestimates: number;
  /** Largest (estimate − true) / N over the queried items. */
  max_relative_error: number;
  /** Share of the true top `top` found among the top `top` by estimate over the queried items. */
  heavy_hitters_recall: number;
  /** N over the seconds the workers took to stream and push their items (tokenizing excluded). */
  inserts_per_s: number;
  pushes: number;
  /** Counters each server holds (every counter touched; the ring's ranges split the rows). */
  counters_per_server: number[];
  seconds: number;
}

/** The bigram item ids of `texts` (consecutive tokens joined by a space), in stream order. */
export function bigramIds(texts: readonly string[]): Uint32Array {
  const ids: number[] = [];
  for (const text of texts) {
    const tokens = tokenize(text);
    for (let t = 1; t < tokens.length; t++) ids.push(itemId(`${tokens[t - 1]} ${tokens[t]}`));
  }
  return Uint32Array.from(ids);
}

/**
 * Counts the word bigrams of `texts` with a count-min sketch on a parameter-server cluster run
 * inside this process over the in-process transport or TCP on 127.0.0.1 (a scheduler, `servers` servers adding
 * pushes with `sumHandler`, `workers` workers streaming their shares), queries a seeded sample
 * of distinct bigrams plus the true top ones, and checks each estimate against the exact count
 * kept in this process.
 * @throws PsError `PS_ERR_CONFIG` for ε or δ outside (0, 1) or a count of nodes below 1.
 */
export async function runSketch(opts: RunSketchOptions): Promise<SketchSummary> {
  const t0 = performance.now();
  const servers = opts.servers ?? 2;
  const workers = opts.workers ?? 2;
  for (const [name, n] of [
    ['servers', servers],
    ['workers', workers],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new PsError(PsErrorCode.CONFIG, `--${name} must be an integer in [1, 64], got ${n}`);
  }
  const seed = opts.seed ?? 1;
  const sketch = new CountMinSketch({ epsilon: opts.epsilon, delta: opts.delta, seed });
  const shards = Array.from({ length: workers }, (_, r) =>
    bigramIds(
      opts.texts.slice(
        Math.floor((r * opts.texts.length) / workers),
        Math.floor(((r + 1) * opts.texts.length) / workers),
      ),
    ),
  );
  const exact = new Map<number, number>();
  let N = 0;
  for (const shard of shards) {
    N += shard.length;
    for (const id of shard) exact.set(id, (exact.get(id) ?? 0) + 1);
  }

  const queries = chooseQueries(exact, opts.top ?? 100, opts.sample ?? 10_000, seed);
  const { queried } = queries;
  const top = queries.trueTop.length;
  // Over inproc no socket holds the event loop open. With the default 2 s heartbeat timeout
  // (before the one below) a run of 10,000 IMDB reviews had its nodes declared dead while this
  // thread was busy, and the process ended mid-stream with status 0, the workers' waits never
  // settled; with this handle the same run fails with PS_ERR_FENCED instead. Held until the
  // cluster is down, or its start failed.
  const keepAlive = setInterval(() => undefined, 1_000);
  const hub = new InprocHub();
  const transport = () => (opts.transport === 'tcp' ? tcp() : inproc({ hub }));
  const startCluster = async () => {
    const scheduler = await Scheduler.start({
      transport: transport(),
      host: '127.0.0.1',
      port: 0,
      numServers: servers,
      numWorkers: workers,
      // Every node shares this one thread: a long synchronous stretch (a worker counting a batch)
      // must not look like a dead node.
      heartbeatTimeoutMs: 60_000,
      // The workers leave as soon as they are done: the scheduler's warnings about the progress
      // clocks it can no longer send them are noise here (PS_LOG_LEVEL still sets the level).
      logger: consoleLogger('ps-scheduler', process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'error'),
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const tables = Array.from({ length: servers }, () => sumHandler({ dtype: 'float64' }));
    const serverNodes = tables.map((handler) =>
      createServer({ transport: transport(), scheduler: at, host: '127.0.0.1', handler }),
    );
    const workerNodes = await Promise.all(
      Array.from({ length: workers }, () =>
        createWorker({ transport: transport(), scheduler: at, host: '127.0.0.1' }),
      ),
    );
    const started = await Promise.all(serverNodes);
    return { scheduler, tables, workerNodes, started };
  };
  const { scheduler, tables, workerNodes, started } = await startCluster().catch((err: unknown) => {
    clearInterval(keepAlive);
    throw err;
  });
  try {
    const s0 = performance.now();
    const pushes = await Promise.all(
      workerNodes.map(({ node, worker }) => pushSketchCounts(worker, sketch, shards[node.rank]!, opts)),
    );
    const streamSeconds = (performance.now() - s0) / 1000;

    const estimates = await querySketch(workerNodes[0]!.worker, sketch, queried);
    const { trueTop } = queries;

    const bound = sketch.epsilon * N;
    let within = 0;
    let under = 0;
    let maxErr = 0;
    for (let i = 0; i < queried.length; i++) {
      const err = estimates[i]! - exact.get(queried[i]!)!;
      if (err <= bound) within++;
      if (err < 0) under++;
      maxErr = Math.max(maxErr, err);
    }
    const order = [...queried.keys()].sort(
      (a, b) => estimates[b]! - estimates[a]! || queried[a]! - queried[b]!,
    );
    const estTop = new Set(order.slice(0, top).map((i) => queried[i]!));
    const found = trueTop.filter((id) => estTop.has(id)).length;
    return {
      epsilon: sketch.epsilon,
      delta: sketch.delta,
      width: sketch.width,
      depth: sketch.depth,
      servers,
      workers,
      transport: opts.transport ?? 'inproc',
      N,
      distinct: exact.size,
      queried: queried.length,
      fraction_within_bound: queried.length ? within / queried.length : 1,
      underestimates: under,
      max_relative_error: N ? maxErr / N : 0,
      heavy_hitters_recall: trueTop.length ? found / trueTop.length : 1,
      inserts_per_s: streamSeconds > 0 ? N / streamSeconds : 0,
      pushes: pushes.reduce((a, b) => a + b, 0),
      counters_per_server: tables.map((t) => t.table.size),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await Promise.all(workerNodes.map(({ node }) => node.finalize()));
    await Promise.all([scheduler.terminated, ...started.map(({ node }) => node.terminated)]);
    clearInterval(keepAlive);
  }
}

/**
 * The items queried: the true top `top` by exact count (ties: the lower id first), then a seeded
 * sample of `sample` of the other distinct items.
 */
function chooseQueries(
  exact: Map<number, number>,
  top: number,
  sample: number,
  seed: number,
): { trueTop: number[]; queried: Uint32Array } {
  let max = 0;
  for (const n of exact.values()) max = Math.max(max, n);
  let ids: Uint32Array;
  if (max < 2 ** 21) {
    // Count descending, then id ascending: (2^21 − count) · 2^32 + id is exact in a double and
    // sorts ascending as numbers, much faster than a comparator over millions of pairs.
    const packed = new Float64Array(exact.size);
    let i = 0;
    for (const [id, n] of exact) packed[i++] = (2 ** 21 - n) * 2 ** 32 + id;
    packed.sort();
    ids = Uint32Array.from(packed, (v) => v % 2 ** 32);
  } else {
    ids = Uint32Array.from(exact.keys()).sort((a, b) => exact.get(b)! - exact.get(a)! || a - b);
  }
  const trueTop = Array.from(ids.subarray(0, Math.min(top, ids.length)));
  const rest = ids.subarray(trueTop.length);
  const rand = seededRandom(seed ^ 0x5eed);
  const want = Math.min(sample, rest.length);
  for (let k = 0; k < want; k++) {
    const j = k + Math.floor(rand() * (rest.length - k));
    const t = rest[k]!;
    rest[k] = rest[j]!;
    rest[j] = t;
  }
  const queried = new Uint32Array(trueTop.length + want);
  queried.set(trueTop);
  queried.set(rest.subarray(0, want), trueTop.length);
  return { trueTop, queried };
}
