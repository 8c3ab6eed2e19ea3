import { statSync } from 'node:fs';
import {
  createServer,
  createWorker,
  type EnvConfig,
  PsError,
  PsErrorCode,
  type PsNode,
  RoleSecrets,
  type RoleSecretValues,
  Scheduler,
  type Transport,
  transportLimitsFromEnv,
} from '@ps/core';
import { type ClusterDialect, clusterConfigFromEnv, restoreServer, snapshotServer } from '@ps/core/node';
import type { SignificantUpdateFilter } from '@ps/filters';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';
import { resumePoint } from '../checkpoint/resume-point.js';
import { runCheckpoints } from '../checkpoint/run-checkpoints.js';
import { serveCheckpointTasks } from '../checkpoint/serve-checkpoint-tasks.js';
import { clusterDigest } from '../dashboard/cluster-digest.js';
import { checkTrainTest } from '../data/check-train-test.js';
import type { SparseDataset } from '../data/dataset.js';
import { DatasetCache } from '../data/dataset-cache.js';
import { BUILT_IN_DATASETS, loadDataset } from '../data/load-dataset.js';
import { trainTestSplit } from '../data/split.js';
import { metricsForRole } from '../metrics/metrics-for-role.js';
import type { NodeMetricsRegistry } from '../metrics/node-metrics-registry.js';
import { schedulerSource, serverSource, workerSource } from '../metrics/node-reading.js';
import { filtersFromSpec } from '../slr/filters-from-spec.js';
import { kktFilter } from '../slr/kkt-filter.js';
import type { SlrConfig } from '../slr/slr-config.js';
import { slrDataSettings } from '../slr/slr-data-settings.js';
import { slrHandler } from '../slr/slr-handler.js';
import { type SlrShards, trainSlrWorker } from '../slr/train-slr-worker.js';
import { BROWSER_WORKER_ID_PREFIX } from '../web/worker-query.js';
import { duringStart, exitCodeOf } from './exit-codes.js';
import type { JobEvent } from './job-events.js';
import { openSlrData, slrDataKey } from './open-slr-data.js';
import { waitForScheduler } from './wait-for-scheduler.js';

/** How long a pod or a Slurm task waits for its scheduler to answer before it exits 75. */
const ORCHESTRATED_START_TIMEOUT_MS = 120_000;

/** How many times a fenced server starts over as a new one (`PS_REJOIN`) before it gives up. */
const MAX_REJOINS = 10;

/**
 * Loads the job's data as every worker does (deterministic from the seed) and checks it (a
 * built-in corpus is hashed once and then read back from the cache, see `DatasetCache`): the
 * training rows (`dataset`, shuffled) and the test rows, held out of it by `testFraction`, or
 * read from `testDataset`. Without `bits`, a training file and a test file share the larger of
 * their dimensions (each file's largest feature id).
 * @throws PsError `PS_ERR_DATASET` for a data set that cannot be loaded (see `loadDataset`), no
 *   training or test row, or training rows of one label only (see `checkTrainTest`).
 */
export function loadSlrData(
  cfg: SlrConfig,
): Promise<{ train: SparseDataset; test: SparseDataset; seconds: number }> {
  // A launcher checks the data (`preflightSlrData`), then runs every role in its process on the
  // same data: the last load is kept, so that a file is read and parsed once.
  // A file's size and modification time are part of the key: a rewritten file is read again.
  const file = (p: string) => {
    const st = p === '' ? undefined : statSync(p, { throwIfNoEntry: false });
    return st ? [st.size, st.mtimeMs] : [];
  };
  const key = JSON.stringify([...slrDataSettings(cfg), file(cfg.dataset), file(cfg.testDataset)]);
  if (lastLoad?.key !== key) {
    const promise = loadSlrDataOnce(cfg);
    lastLoad = { key, promise };
    promise.catch(() => {
      if (lastLoad?.promise === promise) lastLoad = undefined;
    });
  }
  return lastLoad.promise;
}

let lastLoad:
  | { key: string; promise: Promise<{ train: SparseDataset; test: SparseDataset; seconds: number }> }
  | undefined;

async function loadSlrDataOnce(
  cfg: SlrConfig,
): Promise<{ train: SparseDataset; test: SparseDataset; seconds: number }> {
  const t0 = performance.now();
  const opts = { bigrams: cfg.bigrams, ...(cfg.bits > 0 ? { bits: cfg.bits } : {}) };
  // A built-in corpus, hashed once, is read back from the cache (as the workers' shards are).
  const builtIn = (BUILT_IN_DATASETS as readonly string[]).includes(cfg.dataset) && cfg.testDataset === '';
  const cache = new DatasetCache();
  const key = builtIn && cache.enabled ? await slrDataKey(cfg) : undefined;
  if (key) {
    const [train, test] = await Promise.all([cache.get([...key, 'all']), cache.get([...key, 'test'])]);
    if (train && test) return { train, test, seconds: (performance.now() - t0) / 1000 };
  }
  const ds = await loadDataset(cfg.dataset, opts);
  if (cfg.testDataset === '') {
    const { train, test } = trainTestSplit(ds, { testFraction: cfg.testFraction, seed: cfg.seed });
    checkTrainTest(train, test, { testFraction: cfg.testFraction });
    if (key) await Promise.all([cache.put([...key, 'all'], train), cache.put([...key, 'test'], test)]);
    return { train, test, seconds: (performance.now() - t0) / 1000 };
  }
  const other = await loadDataset(cfg.testDataset, opts);
  const features = Math.max(ds.features, other.features);
  // All of the training file, in an order shuffled by the seed (files are often sorted by label).
  const { train } = trainTestSplit({ ...ds, features }, { testFraction: 0, seed: cfg.seed });
  const test = { ...other, features };
  checkTrainTest(train, test);
  return { train, test, seconds: (performance.now() - t0) / 1000 };
}

/** Where one role of a job runs: its cluster settings, its transport, and where it reports. */
export interface RoleContext {
  env: EnvConfig;
  cfg: SlrConfig;
  report: (e: JobEvent) => void;
  transport?: () => Transport;
  /** TLS settings (PEM text) for the default `tcp`/`ws` transport: every connection speaks TLS. */
  tls?: { cert: string; key: string; ca?: string } | undefined;
  /**
   * Per-role secrets for the default `tcp`/`ws` transport (instead of `env.secret`): the role's
   * `RoleSecrets`, so a worker proves the workers' secret and a server the servers'.
   * `RoleSecrets` refuses (`PS_ERR_CONFIG`) a server without both, a worker with the servers'.
   */
  roleSecrets?: RoleSecretValues | undefined;
  /** Data already loaded (one process running every role shares one copy). */
  data?: { train: SparseDataset; test: SparseDataset; seconds: number };
  /** The address the default `tcp` transport binds (e.g. `0.0.0.0`) while announcing `env.host`. */
  listenHost?: string | undefined;
  /** How long a server or worker waits for the cluster to fill, in ms (`PS_START_TIMEOUT_MS`). */
  startTimeoutMs?: number | undefined;
  /** Where the role's node is added for Prometheus (`--metrics-port`); none: no metrics. */
  metrics?: NodeMetricsRegistry | undefined;
}

/**
 * Runs one role of the sparse logistic regression job in this process until the cluster shuts
 * down: the scheduler, a server (with the job's handler), or a worker (loads its data, trains,
 * and, as rank 0, evaluates). Sets `process.title` to `ps-<role>` (`-<rank>` once known).
 */
export async function runSlrRole(ctx: RoleContext): Promise<void> {
  const { env, cfg, report } = ctx;
  const transport =
    ctx.transport ??
    (() => {
      const opts = {
        ...transportLimitsFromEnv(),
        ...(ctx.roleSecrets
          ? { secret: new RoleSecrets(env.role, ctx.roleSecrets) }
          : env.secret
            ? { secret: env.secret }
            : {}),
        ...(ctx.tls ? { tls: ctx.tls } : {}),
      };
      return cfg.transport === 'ws'
        ? ws(opts)
        : tcp({ ...opts, ...(ctx.listenHost ? { listenHost: ctx.listenHost } : {}) });
    });
  const at = env.scheduler;
  // A human opens the browser workers' tabs: give them ten minutes rather than two.
  const startTimeoutMs = ctx.startTimeoutMs ?? (cfg.browserWorkers > 0 ? 600_000 : undefined);
  const setTitle = (t: string) => {
    if (!ctx.data) process.title = t;
  };
  // The latest complete checkpoint of --checkpoint-dir, which every role of a restarted job reads.
  const resume = await resumePoint(cfg, `ps-${env.role}`);
  if (env.role === 'scheduler') {
    setTitle('ps-scheduler');
    const s = await Scheduler.start({
      transport: transport(),
      host: env.host,
      port: env.port,
      numServers: env.numServers,
      numWorkers: env.numWorkers,
      heartbeatTimeoutMs: cfg.heartbeatTimeoutMs,
      ...(cfg.replicas >= 0 ? { replicas: cfg.replicas } : {}),
      ...(cfg.consistency === 'sync' ? { sync: true } : {}),
      // PS_RUN, PS_RECOVER: a scheduler started again at the address of one that died recovers its run.
      ...(env.run ? { run: env.run } : {}),
      ...(env.recover ? { recover: true } : {}),
    });
    ctx.metrics?.add(schedulerSource(s));
    report({ type: 'listening', role: 'scheduler', port: s.address.port });
    const views = s.cluster$.subscribe((v) => report({ type: 'view', cluster: clusterDigest(v, s.address) }));
    const checkpoints =
      cfg.checkpointEvery > 0
        ? runCheckpoints(s, { dir: cfg.checkpointDir, everySeconds: cfg.checkpointEvery })
        : undefined;
    await s.terminated;
    views.unsubscribe();
    await checkpoints;
    report({ type: 'stats', role: 'scheduler', stats: s.stats });
    return;
  }
  const filters = filtersFromSpec(cfg.filters);
  const kkt = cfg.filters.split(',').some((f) => f.trim() === 'kkt') ? kktFilter(cfg.l1) : undefined;
  const filterStats = (chain = filters) =>
    [...(kkt ? [kkt] : []), ...chain].map((f) => ({
      signature: f.signature,
      bytesIn: f.stats.bytesIn,
      bytesOut: f.stats.bytesOut,
    }));
  if (env.role === 'server') {
    // One server node; with PS_REJOIN, a node declared dead (fenced) starts over as a new server
    // (a new id: it joins the running cluster and receives its ranges by the two-phase move).
    const serveOnce = async (first: boolean): Promise<PsError | undefined> => {
      setTitle('ps-server');
      // Filters keep per-peer state: a new node starts with new ones.
      const chain = first ? filters : filtersFromSpec(cfg.filters);
      // Push requests to the model per worker node id, for the summary (`push_requests_by_worker`).
      // Only a worker's own pushes count (a replica's replay comes from its master server). The
      // wrapper keeps the table and the rule, which replication and snapshots need.
      const pushesBySender: Record<string, number> = {};
      // The feature keys' bits when known without the data: --bits, or the text sets' 2^20.
      const builtIn = cfg.dataset === 'imdb' || cfg.dataset === 'spam';
      const model = slrHandler(cfg, cfg.bits > 0 ? cfg.bits : builtIn ? 20 : undefined);
      let self: PsNode | undefined;
      const counted = Object.assign(
        (req: Parameters<typeof model>[0]) => {
          if (req.push && (!self || self.view.workers.some((w) => w.id === req.sender)))
            pushesBySender[req.sender] = (pushesBySender[req.sender] ?? 0) + 1;
          // Sync mode: the master applies sums; each names the worker pushes it holds.
          else if (req.push && req.contributors && req.sender === self?.id)
            for (const [w] of req.contributors) pushesBySender[w] = (pushesBySender[w] ?? 0) + 1;
          return model(req);
        },
        { table: model.table, rule: model.rule },
      );
      const { node, servers } = await createServer({
        transport: transport(),
        scheduler: at,
        host: env.host,
        port: env.port,
        ...(startTimeoutMs ? { startTimeoutMs } : {}),
        // App 0: the model (the workers' progress clock, for the bounded delay across workers,
        // lives on the scheduler).
        handler: { 0: counted },
        filters: chain,
        // Load the model of an earlier run (app 0) before serving.
        ...((resume || cfg.restore) && first
          ? {
              beforeStart: async ([app0]) =>
                void (await restoreServer(app0!, resume ? resume.dataDir : cfg.restore)),
            }
          : {}),
      }).catch((err: unknown) => {
        throw duringStart(err);
      });
      setTitle(`ps-server-${node.rank}`);
      self = node;
      if (cfg.checkpointEvery > 0) serveCheckpointTasks(node, servers[0]!, cfg.checkpointDir);
      const unlisted = ctx.metrics?.add(serverSource(node, servers, [...(kkt ? [kkt] : []), ...chain]));
      report({ type: 'listening', role: 'server', port: node.address.port });
      await node.terminated;
      // A server that starts over as a new node is listed as that one.
      unlisted?.();
      // A server that did not end in order (declared dead, lost the scheduler) writes no snapshot.
      if (cfg.snapshotDir && !node.terminationError) await snapshotServer(servers[0]!, cfg.snapshotDir);
      report({
        type: 'stats',
        role: `server-${node.rank}`,
        stats: node.stats,
        filters: filterStats(chain),
        pushesBySender,
        replicaBytes: servers.reduce((n, s) => n + s.replicas.counters.replicaBytes, 0),
      });
      return node.terminationError;
    };
    for (let round = 0; round <= MAX_REJOINS; round++) {
      const err = await serveOnce(round === 0);
      if (err?.code === PsErrorCode.FENCED && env.rejoin && round < MAX_REJOINS) {
        process.stderr.write(`ps-server: ${err.message}; rejoining as a new server (PS_REJOIN)\n`);
        continue;
      }
      if (err) throw err;
      return;
    }
    return;
  }
  setTitle('ps-worker');
  // In its own process a worker reads only what it needs: its shard (and, evaluating, the test
  // rows), hashed or parsed once its rank is known, or read back from the cache (openSlrData).
  const t0 = performance.now();
  const opened = ctx.data ? undefined : await openSlrData(cfg);
  let loadSeconds = ctx.data ? ctx.data.seconds : (performance.now() - t0) / 1000;
  // App 0 holds the model; the workers' progress clock (bounded delay across workers) is core's.
  const { node, worker } = await createWorker({
    transport: transport(),
    scheduler: at,
    host: env.host,
    filters,
    ...(startTimeoutMs ? { startTimeoutMs } : {}),
  }).catch((err: unknown) => {
    throw duringStart(err);
  });
  const rank = node.rank;
  setTitle(`ps-worker-${rank}`);
  ctx.metrics?.add(workerSource(node, [worker], [...(kkt ? [kkt] : []), ...filters]));
  let train: SparseDataset | SlrShards;
  let test: SparseDataset | (() => Promise<SparseDataset>);
  if (opened) {
    const count = node.view.workers.length;
    const s0 = performance.now();
    const mine = await opened.shard(rank, count);
    loadSeconds += (performance.now() - s0) / 1000;
    train = {
      rows: opened.trainRows,
      features: opened.features,
      shard: (r, c) => (r === rank && c === count ? Promise.resolve(mine) : opened.shard(r, c)),
    };
    test = opened.test;
  } else {
    train = ctx.data!.train;
    test = ctx.data!.test;
  }
  report({
    type: 'data',
    rank,
    rowsTrain: opened ? opened.trainRows : ctx.data!.train.rows,
    rowsTest: opened ? opened.testRows : ctx.data!.test.rows,
    features: opened ? opened.features : ctx.data!.train.features,
    loadSeconds,
  });
  // With browser workers, the first Node worker evaluates for the summary (a tab evaluates for
  // itself, in its page).
  const evaluator =
    cfg.browserWorkers > 0
      ? node.view.workers
          .filter((w) => !w.id.startsWith(BROWSER_WORKER_ID_PREFIX))
          .sort((a, b) => a.rank - b.rank)[0]?.id === node.id
      : undefined;
  try {
    // A worker declared dead (a closed tab, a killed process) leaves its shard to a live one,
    // which trains the rest of it after its own (see trainSlrWorker).
    const { evaluation, report: mine } = await trainSlrWorker({
      node,
      worker,
      kkt,
      significant: filters.find((f) => f.name === 'significant') as SignificantUpdateFilter | undefined,
      cfg,
      train,
      test,
      onProgress: report,
      onEval: report,
      ...(evaluator === undefined ? {} : { evaluator }),
      ...(resume ? { startBatch: resume.manifest.batch } : {}),
      checkpoints: cfg.checkpointEvery > 0,
    });
    report({ type: 'worker-report', report: mine });
    if (evaluation) report({ type: 'evaluation', evaluation });
  } catch (err) {
    await node.close();
    throw err;
  }
  await node.finalize();
  report({ type: 'stats', role: `worker-${rank}`, stats: node.stats, filters: filterStats() });
  if (node.terminationError) throw node.terminationError;
}

/**
 * The entry of a role process (`pskv start`): cluster settings from the environment in any
 * orchestrator's dialect (`PS_*`, ps-lite's `DMLC_*`, a Kubernetes JobSet or Indexed Job, Slurm:
 * `clusterConfigFromEnv`; a Kubernetes pod binds `PS_LISTEN_HOST`, default `0.0.0.0`, and
 * announces its host name), the job from
 * `PS_JOB` (JSON) merged under the given config, the cluster secret (`secret`, else
 * `PS_SECRET`; or per-role secrets, the servers' and the workers', see `RoleSecrets`) and the TLS settings (`tls`, PEM text; none: plain connections). Reports over
 * the IPC channel when the launcher opened one, else as JSON lines on stdout. Exits when the launcher goes away, so that no role outlives it.
 */
export async function roleMain(
  cfg: SlrConfig,
  secret?: string | RoleSecretValues,
  tls?: { cert: string; key: string; ca?: string },
  metrics?: NodeMetricsRegistry,
): Promise<void> {
  const env = clusterConfigFromEnv();
  const listenHost = process.env.PS_LISTEN_HOST?.trim() || defaultListenHost(env.dialect);
  const startTimeoutMs = startTimeoutFromEnv(process.env.PS_START_TIMEOUT_MS);
  const roleSecrets = typeof secret === 'object' ? secret : undefined;
  if (typeof secret === 'string') env.secret = secret;
  const send = process.send?.bind(process);
  const report = send
    ? (e: JobEvent) => {
        send(e);
      }
    : (e: JobEvent) => {
        process.stdout.write(`${JSON.stringify(e)}\n`);
      };
  let finished = false;
  // The launcher went away (crashed, killed): stop rather than outlive it.
  if (send) process.on('disconnect', () => finished || process.exit(1));
  try {
    // Started all at once by an orchestrator, a node waits for the scheduler as long as for the
    // cluster to fill (its name may not be published yet), not the connect timeout (30 s).
    if (env.role !== 'scheduler' && env.dialect !== 'ps' && env.dialect !== 'dmlc') {
      await waitForScheduler(env.scheduler, {
        timeoutMs: startTimeoutMs ?? ORCHESTRATED_START_TIMEOUT_MS,
      }).catch((err: unknown) => {
        throw duringStart(err);
      });
    }
    await runSlrRole({
      env,
      cfg,
      report,
      tls,
      roleSecrets,
      listenHost,
      startTimeoutMs,
      metrics: metrics ?? metricsForRole(),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    report({ type: 'failed', role: env.role, message });
    process.stderr.write(`ps-${env.role}: ${message}\n`);
    process.exitCode = exitCodeOf(err);
  }
  finished = true;
  if (send) process.disconnect?.();
}

/**
 * Where a pod binds: every address (`0.0.0.0`), since its own DNS name may not be published yet
 * when it starts; elsewhere the announced host itself.
 */
function defaultListenHost(dialect: ClusterDialect): string | undefined {
  return dialect === 'jobset' || dialect === 'indexed-job' ? '0.0.0.0' : undefined;
}

/**
 * `PS_START_TIMEOUT_MS`: how long a node waits for its scheduler and for the cluster to fill
 * (default: 120 s, 600 s with browser workers).
 * @throws PsError `PS_ERR_CONFIG` for a value that is not a whole number of ms from 1 to 86,400,000.
 */
function startTimeoutFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 86_400_000) {
    throw new PsError(
      PsErrorCode.CONFIG,
      `PS_START_TIMEOUT_MS must be a whole number of ms from 1 to 86400000, got '${raw}'`,
    );
  }
  return n;
}
