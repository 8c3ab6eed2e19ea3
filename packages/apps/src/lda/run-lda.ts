import { consoleLogger, logLevelFromEnv, Scheduler } from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { checkLdaWorkers, type LdaConfig } from './lda-config.js';
import type { LdaCorpus } from './lda-corpus.js';
import { type LdaSummary, ldaSummary } from './lda-summary.js';
import { loadLdaCorpus } from './load-lda-corpus.js';
import type { LdaCounts } from './pull-lda-counts.js';
import { runLdaServer, runLdaWorker } from './run-lda-roles.js';
import type { LdaSweep } from './train-lda-worker.js';

/** Options of {@link runLda}. */
export interface RunLdaOptions {
  /** The corpus (default: `loadLdaCorpus(cfg)`). */
  corpus?: LdaCorpus;
  /** Every worker's report at the end of each of its sweeps. */
  onSweep?: (s: LdaSweep) => void;
}

/**
 * Runs an LDA job with every node in this process: a scheduler, `cfg.servers` servers and
 * `cfg.workers` workers (see `trainLdaWorker`), talking over the in-process transport
 * (`cfg.transport` `inproc`) or TCP on 127.0.0.1 (`tcp`). Resolves with the summary and the
 * final counts the servers held (pulled by worker 0).
 * @throws PsError `PS_ERR_DATASET` from loading the corpus; `PS_ERR_CONFIG` for more workers than
 *   training documents; a node's error.
 */
export async function runLda(
  cfg: LdaConfig,
  opts: RunLdaOptions = {},
): Promise<{ summary: LdaSummary; counts: LdaCounts }> {
  const t0 = performance.now();
  const corpus = opts.corpus ?? (await loadLdaCorpus(cfg));
  checkLdaWorkers(cfg, corpus.train.offsets.length - 1);
  // Over inproc no socket holds the event loop open while the nodes wait on each other.
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    const hub = new InprocHub();
    const transport = () => (cfg.transport === 'tcp' ? tcp() : inproc({ hub }));
    const scheduler = await Scheduler.start({
      transport: transport(),
      host: '127.0.0.1',
      port: 0,
      numServers: cfg.servers,
      numWorkers: cfg.workers,
      // Every node shares this thread: a batch sampled synchronously is not a dead node.
      heartbeatTimeoutMs: 60_000,
      logger: consoleLogger('ps-scheduler', process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'error'),
    });
    const ctx = { transport, scheduler: { host: '127.0.0.1', port: scheduler.address.port } };
    const servers = Array.from({ length: cfg.servers }, () => runLdaServer(ctx));
    const workers = await Promise.all([
      ...Array.from({ length: cfg.workers }, () => runLdaWorker(ctx, corpus, cfg, opts.onSweep)),
      // A server that fails fails the job (its workers' requests would only time out).
      ...servers.map((s) => s.then(() => undefined)),
    ]).catch(async (err: unknown) => {
      // Every node of the job goes down with it.
      await scheduler.shutdown();
      throw err;
    });
    await Promise.all([scheduler.terminated, ...servers]);
    const done = workers.filter((w) => w !== undefined);
    const first = done.find((w) => w.evaluation)!;
    const summary = ldaSummary(
      cfg,
      corpus,
      done.map((w) => w.report),
      first.evaluation!,
      (performance.now() - t0) / 1000,
      false,
    );
    return { summary, counts: first.counts! };
  } finally {
    clearInterval(keepAlive);
  }
}
