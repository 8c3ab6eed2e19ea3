import { PsError, PsErrorCode } from '@ps/core';
import { checkCheckpointConfig } from '../checkpoint/check-checkpoint-config.js';
import { parseFilterSpec } from './filter-spec.js';

/** Server-side update rules the job can use. */
export type SlrOptimizer = 'adagrad' | 'ftrl' | 'sgd';

/**
 * Everything that defines a sparse logistic regression run. Every role of the job gets the same
 * config (the launcher passes it to each process as JSON in `PS_JOB`).
 */
export interface SlrConfig {
  /** `imdb` (default), `spam`, or a path to a LIBSVM file: the training rows. */
  dataset: string;
  /**
   * A LIBSVM file of test rows: train on all of `dataset`, test on this (no split). Empty
   * (default): hold `testFraction` of `dataset` out.
   */
  testDataset: string;
  /**
   * The dimension: 2^bits feature buckets. 0 (default): the data set's own, 2^20 for the text
   * corpora (`imdb`, `spam`) and the largest feature id for a LIBSVM file (a file's ids beyond
   * 2^bits are hashed when bits is given).
   */
  bits: number;
  /** Give the model an intercept (a bias weight, not penalised by L1/L2); default true. */
  intercept: boolean;
  /** Hash word bigrams too (default true). */
  bigrams: boolean;
  /** Fraction of rows held out for the test set (default 0.2; unused with `testDataset`). */
  testFraction: number;
  /** Seed of the train/test split (default 42). */
  seed: number;
  /**
   * Passes over each worker's shard; -1 (default): {@link slrEpochs} picks 3, or 500 for a
   * training set of fewer than 1,000 rows.
   */
  epochs: number;
  /**
   * Rows per minibatch; -1 (default): {@link slrBatchSize} picks 256 (a batch of 64 IMDB reviews
   * touches about 15,000 features, one of 256 about 46,000, so a row sends 23% fewer keys and the
   * servers answer 4 times fewer requests; see {@link SLR_DEFAULTS}), or less for a shard of fewer
   * than 256 × {@link SLR_MIN_STEPS_PER_EPOCH} rows.
   */
  batchSize: number;
  /** Server update rule (default adagrad). */
  optimizer: SlrOptimizer;
  /** Learning rate: AdaGrad/SGD η, or FTRL α (default 0.3; FTRL is best near 2). */
  lr: number;
  /** FTRL β (default 1). */
  beta: number;
  /** L1 penalty (default 0). */
  l1: number;
  /** L2 penalty (default 0). */
  l2: number;
  servers: number;
  /** Worker processes the launcher starts (Node workers). */
  workers: number;
  /**
   * `tcp` and `ws`: one process per role, over TCP or WebSocket; `inproc`: every role in one
   * process. Browser workers need `ws`.
   */
  transport: 'tcp' | 'inproc' | 'ws';
  /**
   * Workers that join from browser tabs (default 0). The cluster waits for them besides `workers`
   * Node workers; they need `transport: 'ws'`, and train any data set with the job's filters.
   */
  browserWorkers: number;
  /**
   * How stale a worker's weights may be (OSDI 2014, section 3.5): `sequential` (each batch's pull
   * waits for the previous batch's push), `eventual` (pulls prefetched without waiting), or
   * `bounded` with `tau`: the pull for batch i + τ + 1 waits for batch i's push (default bounded, τ 4);
   * or `sync`: aggregation on servers, batch i is iteration i of every worker, each server applies
   * the sum of the workers' gradients of an iteration once and replicates that sum once, and the
   * pull of batch i + 1 reads the model after iteration i.
   */
  consistency: 'sequential' | 'eventual' | 'bounded' | 'sync';
  /** τ of bounded delay, in batches (default 4). */
  tau: number;
  /** Slow the last worker down by this factor (1 = no straggler), to show what bounded delay buys. */
  straggler: number;
  /** Worker 0 measures test accuracy (on up to 2,000 test rows) every this many of its batches; 0 = never. */
  evalEvery: number;
  /** Bandwidth filters of every node, comma-separated (`quantize:8,lz4`); empty for none. */
  filters: string;
  /** Replicas per key range besides its master; -1 (default): 1 with at least 2 servers, else 0. */
  replicas: number;
  /**
   * Fault injection by the launcher: roles to SIGKILL once training reached a share of its rows,
   * comma-separated `server:<i>@<fraction>` / `worker:<i>@<fraction>` (i from 0, in launch
   * order), e.g. `server:1@0.3,worker:1@0.5`. Empty (default): none.
   */
  kill: string;
  /**
   * The scheduler declares a silent node dead after this many ms (default 2,000; 10,000 with
   * browser workers, whose timers a browser slows when their tab is not in front).
   */
  heartbeatTimeoutMs: number;
  /** Each server writes its table there when the job ends (`<run>.r<ring>.<node>.app0.snap`, one set per run); empty: no snapshot. */
  snapshotDir: string;
  /** Servers load every app-0 snapshot of this directory before serving; empty: start empty. */
  restore: string;
  /** Periodic checkpoints and resume go there (see docs/checkpoints.md); empty: none. */
  checkpointDir: string;
  /** Seconds between checkpoints (with `checkpointDir`); 0: none taken (a complete one is still resumed from). */
  checkpointEvery: number;
}

/**
 * One planned SIGKILL of `--kill`. A killed scheduler is started again at its address, to recover
 * the run (the nodes register again with their state); a killed server or worker stays dead.
 */
export interface KillPlan {
  role: 'server' | 'worker' | 'scheduler';
  /** The role's index from 0 (0 for the scheduler). */
  index: number;
  /** Share of all training rows done when the role is killed, in (0, 1). */
  at: number;
}

/**
 * Parses `--kill` (`server:1@0.3,worker:1@0.5,scheduler@0.4`; `scheduler:0@0.4` also reads).
 * @throws PsError `PS_ERR_CONFIG` on a malformed entry or an index beyond the role's count.
 */
export function parseKillSpec(spec: string, servers: number, workers: number): KillPlan[] {
  const out: KillPlan[] = [];
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(?:(server|worker):(\d+)|(scheduler)(?::(0))?)@(0?\.\d+|1(?:\.0*)?|0)$/.exec(part);
    const at = m ? Number(m[5]) : Number.NaN;
    if (!m || !(at > 0 && at < 1)) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `--kill entry '${part}' is not role:index@fraction (or scheduler@fraction) with a fraction in (0, 1), e.g. server:1@0.3 or scheduler@0.4`,
      );
    }
    if (m[3]) {
      if (out.some((k) => k.role === 'scheduler'))
        throw new PsError(
          PsErrorCode.CONFIG,
          `--kill ${part}: the scheduler is killed (and restarted) once at most`,
        );
      out.push({ role: 'scheduler', index: 0, at });
      continue;
    }
    const role = m[1] as 'server' | 'worker';
    const index = Number(m[2]);
    const count = role === 'server' ? servers : workers;
    if (index >= count) {
      throw new PsError(
        PsErrorCode.CONFIG,
        `--kill ${part}: there are only ${count} ${role}s (index from 0)`,
      );
    }
    out.push({ role, index, at });
  }
  return out;
}

/** Training sets with fewer rows than this get {@link SMALL_DATA_EPOCHS} passes by default. */
export const SMALL_DATA_ROWS = 1000;
/** The default passes over a small training set (heart_scale: 0.796 test accuracy in every run, 0.76 after 3). */
export const SMALL_DATA_EPOCHS = 500;

/**
 * The passes a job makes over `trainRows` training rows: `cfg.epochs` when given (> 0), else 3,
 * or {@link SMALL_DATA_EPOCHS} when `trainRows < SMALL_DATA_ROWS`: a few hundred rows give a
 * worker a couple of minibatches a pass, far too few steps to converge in 3 passes.
 */
export function slrEpochs(cfg: Pick<SlrConfig, 'epochs'>, trainRows: number): number {
  if (cfg.epochs > 0) return cfg.epochs;
  return trainRows < SMALL_DATA_ROWS ? SMALL_DATA_EPOCHS : 3;
}

/** The default batch size's upper bound, what shards of IMDB and SpamAssassin get (see {@link SLR_DEFAULTS}). */
export const SLR_MAX_DEFAULT_BATCH = 256;
/**
 * The default batch size leaves every shard at least this many minibatches a pass. With bounded
 * delay τ the pull of batch i + τ + 1 waits only for the push of batch i, so in an epoch of τ + 1
 * batches or fewer every batch is computed on weights that miss the previous pass over its own
 * rows (and with fewer steps, on weights several passes old): 8 keeps a margin over the default
 * τ = 4. IMDB (20,000 rows a worker) and SpamAssassin (about 2,400) keep 256 rows; heart_scale
 * (108 rows a worker) gets 13, 9 steps a pass instead of 1.
 */
export const SLR_MIN_STEPS_PER_EPOCH = 8;

/**
 * The rows of a minibatch in a job of `trainRows` training rows over `workers` workers:
 * `cfg.batchSize` when given (> 0), else {@link SLR_MAX_DEFAULT_BATCH} or, when the largest shard
 * (`ceil(trainRows / workers)` rows) would then have fewer than {@link SLR_MIN_STEPS_PER_EPOCH}
 * batches a pass, `floor(shard rows / SLR_MIN_STEPS_PER_EPOCH)` (at least 1). Every worker of a job
 * computes the same value (sync mode needs the same batches a pass everywhere).
 */
export function slrBatchSize(cfg: Pick<SlrConfig, 'batchSize'>, trainRows: number, workers: number): number {
  if (cfg.batchSize > 0) return cfg.batchSize;
  const shardRows = Math.ceil(trainRows / Math.max(1, workers));
  return Math.max(1, Math.min(SLR_MAX_DEFAULT_BATCH, Math.floor(shardRows / SLR_MIN_STEPS_PER_EPOCH)));
}

/**
 * Defaults that reach the documented accuracy on IMDB and SpamAssassin. Batches of 256 rows and
 * bounded delay τ = 4 are for the local cluster's 2 servers and 2 workers sharing a few cores:
 * with 64 rows and τ = 1 the workers waited for their weights 72–76% of training (each pull can
 * leave only once the previous batch's push is acknowledged and the workers' clock moved, a
 * chain of round trips through processes that share the cores), against 5–14% now, with about
 * 35% less CPU for the job and test accuracy 0.912–0.916 on IMDB (0.918–0.919 before); see
 * docs/apps/sparse-logistic-regression.md, "Idle workers".
 */
export const SLR_DEFAULTS: SlrConfig = {
  dataset: 'imdb',
  testDataset: '',
  bits: 0,
  intercept: true,
  bigrams: true,
  testFraction: 0.2,
  seed: 42,
  epochs: -1,
  batchSize: -1,
  optimizer: 'adagrad',
  lr: 0.3,
  beta: 1,
  l1: 0,
  l2: 0,
  servers: 2,
  workers: 2,
  transport: 'tcp',
  browserWorkers: 0,
  consistency: 'bounded',
  tau: 4,
  straggler: 1,
  evalEvery: 0,
  filters: '',
  replicas: -1,
  kill: '',
  heartbeatTimeoutMs: 2000,
  snapshotDir: '',
  restore: '',
  checkpointDir: '',
  checkpointEvery: 0,
};

/**
 * Fills defaults and checks ranges.
 * @throws PsError `PS_ERR_CONFIG` naming the option that is out of range.
 */
export function resolveSlrConfig(partial: Partial<SlrConfig>): SlrConfig {
  const c: SlrConfig = { ...SLR_DEFAULTS };
  for (const [k, v] of Object.entries(partial))
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  if (partial.heartbeatTimeoutMs === undefined && (c.browserWorkers ?? 0) > 0) c.heartbeatTimeoutMs = 10_000;
  const bad = (what: string) => {
    throw new PsError(PsErrorCode.CONFIG, what);
  };
  const int = (name: keyof SlrConfig, min: number, max: number) => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < min || v > max)
      bad(`--${name} must be an integer from ${min} to ${max}, got ${v}`);
  };
  int('bits', 0, 32);
  if (c.bits > 0 && c.bits < 4) bad(`--bits must be 0 (the data set's own) or from 4 to 32, got ${c.bits}`);
  int('epochs', -1, 1000);
  if (c.epochs === 0) bad('--epochs must be an integer from 1 to 1000, got 0');
  int('batchSize', -1, 1_000_000);
  if (c.batchSize === 0) bad('--batch-size must be an integer from 1 to 1000000, got 0');
  int('servers', 1, 64);
  int('workers', 1, 64);
  int('browserWorkers', 0, 64);
  int('seed', 0, 2 ** 31 - 1);
  int('tau', 0, 1024);
  int('evalEvery', 0, 1_000_000);
  if (!['sequential', 'eventual', 'bounded', 'sync'].includes(c.consistency)) {
    bad(`--consistency must be sequential, eventual, bounded or sync, got ${c.consistency}`);
  }
  if (!(c.straggler >= 1 && c.straggler <= 1000))
    bad(`--straggler must be a factor from 1 to 1000, got ${c.straggler}`);
  if (!(c.testFraction > 0 && c.testFraction < 1))
    bad(`--test-fraction must be in (0, 1), got ${c.testFraction}`);
  if (!(c.lr > 0)) bad(`--lr must be > 0, got ${c.lr}`);
  for (const k of ['beta', 'l1', 'l2'] as const) if (!(c[k] >= 0)) bad(`--${k} must be >= 0, got ${c[k]}`);
  if (!['adagrad', 'ftrl', 'sgd'].includes(c.optimizer))
    bad(`--optimizer must be adagrad, ftrl or sgd, got ${c.optimizer}`);
  if (c.transport !== 'tcp' && c.transport !== 'inproc' && c.transport !== 'ws')
    bad(`--transport must be tcp, ws or inproc, got ${c.transport}`);
  const filters = parseFilterSpec(c.filters); // throws PS_ERR_CONFIG naming an unknown filter
  if (c.browserWorkers > 0) {
    if (c.transport !== 'ws')
      bad(`--browser-workers needs --transport ws (a browser speaks WebSocket), got ${c.transport}`);
  }
  if (c.consistency === 'sync') {
    if (c.browserWorkers > 0)
      bad('--consistency sync: browser workers do not tag their pushes with iterations yet');
    if (filters.some((f) => f.name === 'significant'))
      bad(
        '--consistency sync: significant-update holds values back across iterations; drop it from --filters',
      );
  }
  int('replicas', -1, 63);
  int('heartbeatTimeoutMs', 100, 600_000);
  const kills = parseKillSpec(c.kill, c.servers, c.workers);
  if (kills.some((k) => k.role === 'worker' && k.index === 0)) {
    bad('--kill cannot kill worker 0: it evaluates the model at the end');
  }
  if (kills.length > 0 && c.transport === 'inproc')
    bad('--kill needs --transport tcp or ws (one process per role)');
  checkCheckpointConfig(c);
  return c;
}
