import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type EnvConfig, PsError, PsErrorCode, type TrafficStats } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import type { JobMetrics } from '../metrics/job-metrics.js';
import { isMetricsReply, METRICS_IPC_ENV } from '../metrics/metrics-ipc.js';
import { parseKillSpec, type SlrConfig, slrBatchSize, slrEpochs } from '../slr/slr-config.js';
import type { SlrEvaluation } from '../slr/train-slr-worker.js';
import { EXIT_FENCED, EXIT_LOST_SCHEDULER } from './exit-codes.js';
import type { JobEvent, JobSummary } from './job-events.js';
import { JobInterrupted } from './job-interrupted.js';
import { cacheSlrData } from './open-slr-data.js';
import { type ResolvedRoleSecrets, roleSecretEnv, SECRET_ENV_VARS } from './resolve-role-secrets.js';
import { resolveSecret } from './resolve-secret.js';
import { loadSlrData, runSlrRole } from './run-role.js';

/** Options of {@link runLocalCluster}. */
export interface LocalClusterOptions {
  cfg: SlrConfig;
  /** The script that runs one role when called with `start` (the `pskv` CLI's own file). */
  roleScript: string;
  /** Every event from every role, as it arrives (progress, data, evaluation...). */
  onEvent?: (e: JobEvent) => void;
  /** Tear the cluster down and fail after this many seconds. Default 3,600. */
  timeoutSeconds?: number;
  /** The cluster secret every role authenticates its connections with. Default: none. */
  secret?: string;
  /**
   * The file the secret was read from: role processes are told its path (`PS_SECRET_FILE`)
   * rather than the secret itself. Without it a secret goes to them as `PS_SECRET`.
   */
  secretFile?: string;
  /**
   * Per-role secrets instead of one `secret` (tcp and ws only): the scheduler and the servers are
   * given both (`PS_SERVER_SECRET_FILE`, `PS_WORKER_SECRET_FILE`, or the values when they did not
   * come from files), a worker the workers' only. Secret variables of this process's own
   * environment never reach a role process.
   */
  roleSecrets?: ResolvedRoleSecrets;
  /**
   * PEM files (absolute paths) of the TLS settings every role speaks with (`tcp` and `ws` only);
   * role processes are told the paths (`PS_TLS_CERT`, `PS_TLS_KEY`, `PS_TLS_CA`). Default: plain.
   */
  tlsFiles?: { cert: string; key: string; ca?: string };
  /** Collects every node's metrics for Prometheus (`--metrics-port`): role processes answer its requests. */
  metrics?: JobMetrics;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the sparse logistic regression job on this machine and resolves with its summary.
 *
 * With `transport: 'tcp'` or `'ws'` every role is a separate OS process on 127.0.0.1 (a
 * scheduler, S servers, W workers), each running `roleScript start` and reporting over an IPC
 * channel. With `browserWorkers` B > 0 (over `ws`) the cluster also waits for B workers that
 * join from browser tabs (the scheduler's `listening` event gives the port they connect to). The
 * cluster is torn down, by pid, when the job ends, when a role crashes, on SIGINT/SIGTERM (then
 * it rejects with {@link JobInterrupted}), and at the time limit: no process outlives the launcher. With `transport: 'inproc'` every role
 * runs inside this process over the in-process transport.
 */
export async function runLocalCluster(opts: LocalClusterOptions): Promise<JobSummary> {
  const { cfg } = opts;
  const t0 = performance.now();
  const collected = collector(opts.onEvent);
  if (cfg.transport === 'inproc') {
    if (opts.roleSecrets) {
      throw new PsError(
        PsErrorCode.CONFIG,
        'per-role secrets need --transport tcp or ws: inproc runs every role in this one process, which then holds both secrets',
      );
    }
    const secret = opts.secret ?? (opts.secretFile ? resolveSecret(opts.secretFile).secret : undefined);
    await runInProcess(cfg, collected.on, secret, opts.metrics);
  } else {
    await runProcesses(opts, collected.on);
  }
  return collected.summary(cfg, (performance.now() - t0) / 1000);
}

function collector(onEvent?: (e: JobEvent) => void) {
  let evaluation: SlrEvaluation | undefined;
  let data: Extract<JobEvent, { type: 'data' }> | undefined;
  let trainStart = 0;
  let trainEnd = 0;
  const dataSeen = new Set<number>();
  const stats: TrafficStats[] = [];
  const idle: number[] = [];
  let maxStaleness = 0;
  let sentByWorkers = 0;
  let sentByServers = 0;
  let replicaBytes = 0;
  const byFilter: Record<string, { bytes_in: number; bytes_out: number }> = {};
  const pushes: Record<string, number> = {};
  const evals: { seconds: number; batches: number; accuracy: number }[] = [];
  const killed: { role: string; at: number }[] = [];
  const on = (e: JobEvent) => {
    if (e.type === 'killed') killed.push({ role: e.role, at: round(e.at, 3) });
    if (e.type === 'worker-report') {
      idle.push(e.report.idleFraction);
      maxStaleness = Math.max(maxStaleness, e.report.maxStaleness);
    } else if (e.type === 'eval')
      evals.push({ seconds: round(e.seconds, 3), batches: e.batches, accuracy: round(e.accuracy, 5) });
    if (e.type === 'data') {
      data = e;
      dataSeen.add(e.rank);
      trainStart = performance.now();
    } else if (e.type === 'evaluation') {
      evaluation = e.evaluation;
      trainEnd = performance.now();
    } else if (e.type === 'stats') {
      stats.push(e.stats);
      if (e.role.startsWith('worker')) sentByWorkers += e.stats.bytesSent;
      else if (e.role.startsWith('server')) sentByServers += e.stats.bytesSent;
      replicaBytes += e.replicaBytes ?? 0;
      for (const [id, n] of Object.entries(e.pushesBySender ?? {})) pushes[id] = (pushes[id] ?? 0) + n;
      for (const f of e.filters ?? []) {
        const b = byFilter[f.signature] ?? { bytes_in: 0, bytes_out: 0 };
        byFilter[f.signature] = b;
        b.bytes_in += f.bytesIn;
        b.bytes_out += f.bytesOut;
      }
    }
    onEvent?.(e);
  };
  const summary = (cfg: SlrConfig, seconds: number): JobSummary => {
    if (!evaluation || !data) throw new Error('the job ended without an evaluation from worker 0');
    return {
      dataset: cfg.dataset,
      rows_train: data.rowsTrain,
      rows_test: data.rowsTest,
      features: data.features,
      servers: cfg.servers,
      workers: cfg.workers,
      browser_workers: cfg.browserWorkers,
      transport: cfg.transport,
      epochs: slrEpochs(cfg, data.rowsTrain),
      batch_size: slrBatchSize(cfg, data.rowsTrain, cfg.workers + cfg.browserWorkers),
      optimizer: cfg.optimizer,
      seconds: round(seconds, 3),
      train_seconds: round((trainEnd - trainStart) / 1000, 3),
      accuracy: round(evaluation.accuracy, 5),
      logloss: round(evaluation.logloss, 5),
      auc: round(evaluation.auc, 5),
      bytes_sent: stats.reduce((a, s) => a + s.bytesSent, 0),
      bytes_received: stats.reduce((a, s) => a + s.bytesReceived, 0),
      bytes_sent_by_workers: sentByWorkers,
      bytes_sent_by_servers: sentByServers,
      replica_bytes: replicaBytes,
      consistency: cfg.consistency,
      tau:
        cfg.consistency === 'sequential' || cfg.consistency === 'sync'
          ? 0
          : cfg.consistency === 'eventual'
            ? null
            : cfg.tau,
      straggler: cfg.straggler,
      filters: cfg.filters,
      replicas: cfg.replicas,
      killed,
      bytes_by_filter: byFilter,
      push_requests_by_worker: pushes,
      worker_idle_fraction: round(
        idle.length ? idle.reduce((a, b) => a + b, 0) / idle.length : Number.NaN,
        4,
      ),
      max_staleness: maxStaleness,
      ...(cfg.evalEvery > 0 ? { evals } : {}),
    };
  };
  return { on, summary };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * In one process every role shares one thread: a node falls silent only when the whole process
 * stalls (a long garbage collection, a machine whose cores are taken), and then the scheduler's
 * own clock jumps too. A silence that short is not a death: the timeout is at least this long.
 */
const INPROC_HEARTBEAT_TIMEOUT_MS = 30_000;

async function runInProcess(
  given: SlrConfig,
  on: (e: JobEvent) => void,
  secret?: string,
  jobMetrics?: JobMetrics,
): Promise<void> {
  const metrics = jobMetrics?.local;
  const cfg = {
    ...given,
    heartbeatTimeoutMs: Math.max(given.heartbeatTimeoutMs, INPROC_HEARTBEAT_TIMEOUT_MS),
  };
  const hub = new InprocHub();
  const transport = () => inproc(secret ? { hub, secret } : { hub });
  const base = { numServers: cfg.servers, numWorkers: cfg.workers, host: '127.0.0.1', port: 0 };
  let listening!: (port: number) => void;
  const port = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const report = (e: JobEvent) => {
    if (e.type === 'listening' && e.role === 'scheduler') listening(e.port);
    on(e);
  };
  const env: EnvConfig = { ...base, role: 'scheduler', scheduler: { host: '127.0.0.1', port: 0 } };
  const schedulerDone = runSlrRole({ env, cfg, report, transport, metrics });
  const scheduler = { host: '127.0.0.1', port: await Promise.race([port, schedulerDone.then(() => 0)]) };
  const data = await loadSlrData(cfg);
  const roles: Promise<void>[] = [schedulerDone];
  for (let i = 0; i < cfg.servers; i++) {
    roles.push(
      runSlrRole({ env: { ...base, role: 'server', scheduler }, cfg, report: on, transport, data, metrics }),
    );
  }
  for (let i = 0; i < cfg.workers; i++) {
    roles.push(
      runSlrRole({ env: { ...base, role: 'worker', scheduler }, cfg, report: on, transport, data, metrics }),
    );
  }
  await Promise.all(roles);
}

/**
 * The Node flags a role process starts with: the launcher's own (`node --cpu-prof
 * --cpu-prof-dir=DIR pskv.js slr` profiles every role, each to its own file), except the
 * inspector's, whose port only one process can hold.
 */
export function roleExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return execArgv.filter((a) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(a));
}

/** How long nodes may run on after the scheduler and the workers finished, in ms. */
const LATE_NODE_GRACE_MS = 5_000;

interface Role {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function runProcesses(opts: LocalClusterOptions, on: (e: JobEvent) => void): Promise<void> {
  const { cfg, roleScript } = opts;
  const roles: Role[] = [];
  const servers: Role[] = [];
  const workers: Role[] = [];
  /** Roles killed on purpose (`--kill`): their death is not a failure. */
  const killed = new Set<Role>();
  const kills = parseKillSpec(cfg.kill, cfg.servers, cfg.workers);
  const progress = new Map<number, { done: number; total: number }>();
  const maybeKill = () => {
    let done = 0;
    let total = 0;
    for (const p of progress.values()) {
      done += p.done;
      total += p.total;
    }
    if (progress.size < cfg.workers || total === 0) return;
    for (const k of kills) {
      if (k.role === 'scheduler') {
        if (nextScheduler || !schedulerRole || schedulerPort === 0 || done / total < k.at) continue;
        restartScheduler(done / total);
        continue;
      }
      const role = (k.role === 'server' ? servers : workers)[k.index];
      if (!role || killed.has(role) || done / total < k.at) continue;
      killed.add(role);
      role.child.kill('SIGKILL');
      on({ type: 'killed', role: role.name, pid: role.child.pid ?? -1, at: done / total });
    }
  };
  /** The scheduler now running (a new one after `--kill scheduler@x`), and its port. */
  let schedulerRole: Role | undefined;
  let schedulerPort = 0;
  /** Resolves with the scheduler started in place of a killed one. */
  let nextScheduler: Promise<Role> | undefined;
  // The run's id, given to the scheduler so that one started again recovers this run.
  const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  /** SIGKILLs the scheduler and, once it is gone, starts a new one at its port to recover the run. */
  const restartScheduler = (at: number) => {
    const old = schedulerRole!;
    killed.add(old);
    old.child.kill('SIGKILL');
    on({ type: 'killed', role: old.name, pid: old.child.pid ?? -1, at });
    nextScheduler = old.exited.then(() => {
      schedulerRole = launch('ps-scheduler', {
        PS_ROLE: 'scheduler',
        PS_SCHEDULER: `127.0.0.1:${schedulerPort}`,
        PS_RUN: run,
        PS_RECOVER: '1',
      });
      return schedulerRole;
    });
  };
  /** The exit of the scheduler that ends the job (the last one started). */
  const schedulerEnd = async () => {
    let r = schedulerRole!;
    for (let i = 0; i < 10; i++) {
      const e = await r.exited;
      if (!killed.has(r) || !nextScheduler) return e;
      r = await nextScheduler;
    }
    return r.exited;
  };
  /** The scheduler exited 0: the job is done; a node still running was cut off from it. */
  let jobDone = false;
  let tearingDown = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let failure: Error | undefined;
  let failed!: (e: Error) => void;
  const failedPromise = new Promise<never>((_, reject) => {
    failed = (e: Error) => {
      failure ??= e;
      reject(failure);
    };
  });
  failedPromise.catch(() => undefined);

  const common: Record<string, string> = {
    PS_NUM_SERVERS: String(cfg.servers),
    // The scheduler also waits for the browser workers; the launcher starts only the Node ones.
    PS_NUM_WORKERS: String(cfg.workers + cfg.browserWorkers),
    PS_HOST: '127.0.0.1',
    PS_JOB: JSON.stringify(cfg),
  };
  if (opts.secretFile) common.PS_SECRET_FILE = opts.secretFile;
  else if (opts.secret) common.PS_SECRET = opts.secret;
  if (opts.tlsFiles) {
    common.PS_TLS_CERT = opts.tlsFiles.cert;
    common.PS_TLS_KEY = opts.tlsFiles.key;
    if (opts.tlsFiles.ca) common.PS_TLS_CA = opts.tlsFiles.ca;
  }
  // A role process gets the secrets its role holds, and no secret variable of this process's.
  const inherited: Record<string, string | undefined> = { ...process.env };
  for (const k of SECRET_ENV_VARS) delete inherited[k];
  const launch = (name: string, env: Record<string, string>): Role => {
    const psRole = env.PS_ROLE as 'scheduler' | 'server' | 'worker';
    const secrets = opts.roleSecrets ? roleSecretEnv(opts.roleSecrets, psRole) : {};
    const child = spawn(process.execPath, [...roleExecArgv(), roleScript, 'start'], {
      env: {
        ...inherited,
        ...common,
        ...secrets,
        ...(opts.metrics ? { [METRICS_IPC_ENV]: '1' } : {}),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    opts.metrics?.addChild(name, child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.on('message', (m) => {
      if (isMetricsReply(m)) return; // answered to opts.metrics, not an event of the job
      const e = m as JobEvent;
      if (e.type === 'progress' && kills.length > 0) {
        progress.set(e.rank, { done: e.rowsDone, total: e.rowsTotal });
        maybeKill();
      }
      on(e);
    });
    child.once('error', (err) => failed(new Error(`could not start ${name}: ${err.message}`)));
    const role: Role = { name, child, exited };
    if (child.pid !== undefined) on({ type: 'spawned', role: name, pid: child.pid });
    roles.push(role);
    void exited.then(({ code, signal }) => {
      // A node declared dead (a pause past the heartbeat timeout) stops on its own, and so does
      // one that woke after the job ended: the cluster went on without them, not a failure.
      const excused =
        killed.has(role) ||
        code === EXIT_FENCED ||
        (jobDone && (code === EXIT_LOST_SCHEDULER || tearingDown));
      if (code !== 0 && !excused) {
        failed(
          new Error(
            `${name} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}; the cluster was torn down`,
          ),
        );
      }
    });
    return role;
  };
  const teardown = async () => {
    const alive = roles.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    if (alive.length === 0) return; // nothing to wait for (a pending timer would hold the process)
    for (const r of alive) r.child.kill('SIGTERM');
    const all = Promise.all(alive.map((r) => r.exited));
    const grace = sleep(3000).then(() => 'timeout' as const);
    if ((await Promise.race([all, grace])) === 'timeout') {
      for (const r of alive)
        if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await all;
    }
  };
  const onSignal = (sig: NodeJS.Signals) => failed(new JobInterrupted(sig));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const limit = setTimeout(
    () =>
      failed(
        new Error(
          `the job did not finish within ${opts.timeoutSeconds ?? 3600} s; the cluster was torn down`,
        ),
      ),
    (opts.timeoutSeconds ?? 3600) * 1000,
  );
  try {
    const port = await Promise.race([
      new Promise<number>((resolve) => {
        const scheduler = launch('ps-scheduler', {
          PS_ROLE: 'scheduler',
          PS_SCHEDULER: '127.0.0.1:0',
          PS_RUN: run,
        });
        schedulerRole = scheduler;
        scheduler.child.on('message', (m) => {
          const e = m as JobEvent;
          if (e.type === 'listening' && e.role === 'scheduler') resolve(e.port);
        });
      }),
      failedPromise,
    ]);
    schedulerPort = port;
    const env = { PS_SCHEDULER: `127.0.0.1:${port}` };
    for (let i = 0; i < cfg.servers; i++)
      servers.push(launch(`ps-server (${i + 1}/${cfg.servers})`, { ...env, PS_ROLE: 'server' }));
    // The workers' shards, hashed or parsed once here and read back by each worker.
    if (cfg.workers > 0)
      await Promise.race([
        cacheSlrData(cfg, cfg.workers + cfg.browserWorkers, () => loadSlrData(cfg)),
        failedPromise,
      ]);
    for (let i = 0; i < cfg.workers; i++)
      workers.push(launch(`ps-worker (${i + 1}/${cfg.workers})`, { ...env, PS_ROLE: 'worker' }));
    // Once the scheduler and the workers are done, a server still running (one declared dead
    // while paused, which never heard the end) gets a few seconds, then is stopped.
    const jobEnded = Promise.all([schedulerEnd(), ...workers.map((r) => r.exited)]).then(([s]) => {
      if (s!.code !== 0) return new Promise<never>(() => undefined);
      jobDone = true;
      return new Promise<void>((resolve) => {
        graceTimer = setTimeout(() => {
          tearingDown = true;
          resolve();
        }, LATE_NODE_GRACE_MS);
      });
    });
    // Every role exited (a scheduler started in place of a killed one counts too).
    const allExited = async () => {
      for (let n = -1, i = 0; n !== roles.length && i < 10; i++) {
        n = roles.length;
        await Promise.all(roles.map((r) => r.exited));
      }
    };
    await Promise.race([allExited(), jobEnded, failedPromise]);
  } finally {
    clearTimeout(limit);
    clearTimeout(graceTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
  if (failure) throw failure;
}
