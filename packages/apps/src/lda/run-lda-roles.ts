import { createServer, createWorker, type PeerAddress, sumHandler, type Transport } from '@ps/core';
import { evaluateLda, type LdaEvaluation } from './evaluate-lda.js';
import type { LdaConfig } from './lda-config.js';
import type { LdaCorpus } from './lda-corpus.js';
import type { LdaCounts } from './pull-lda-counts.js';
import { type LdaSweep, type LdaWorkerReport, trainLdaWorker } from './train-lda-worker.js';

/** Where a role of an LDA job runs: its transport and the scheduler's address. */
export interface LdaRoleContext {
  transport: () => Transport;
  scheduler: PeerAddress;
  host?: string;
}

/**
 * An LDA server: one node whose table sums the workers' count deltas
 * (`sumHandler({ dtype: 'float64' })`: counts stay exact integers). Resolves with the node's
 * number of keys when the cluster terminates.
 * @throws PsError the node's termination error (declared dead, the scheduler lost).
 */
export async function runLdaServer(ctx: LdaRoleContext): Promise<{ keys: number }> {
  const handler = sumHandler({ dtype: 'float64' });
  const { node } = await createServer({
    transport: ctx.transport(),
    scheduler: ctx.scheduler,
    host: ctx.host ?? '127.0.0.1',
    handler,
  });
  await node.terminated;
  if (node.terminationError) throw node.terminationError;
  return { keys: handler.table.size };
}

/**
 * An LDA worker: joins, trains its share (see `trainLdaWorker`), and, as rank 0, measures the
 * model once every worker is done (see `evaluateLda`); then finalizes. `corpus` is the whole
 * corpus, or what reads this worker's view of it once its rank is known (`readLdaShard`).
 * Resolves with its report, and rank 0's evaluation and counts.
 */
export async function runLdaWorker(
  ctx: LdaRoleContext,
  corpusOf: LdaCorpus | ((rank: number, workers: number) => Promise<LdaCorpus>),
  cfg: LdaConfig,
  onSweep?: (s: LdaSweep) => void,
): Promise<{ report: LdaWorkerReport; evaluation?: LdaEvaluation; counts?: LdaCounts }> {
  const { node, worker } = await createWorker({
    transport: ctx.transport(),
    scheduler: ctx.scheduler,
    host: ctx.host ?? '127.0.0.1',
  });
  try {
    const corpus =
      typeof corpusOf === 'function' ? await corpusOf(node.rank, node.view.workers.length) : corpusOf;
    const report = await trainLdaWorker({ node, worker, corpus, cfg, ...(onSweep ? { onSweep } : {}) });
    const measured = node.rank === 0 ? await evaluateLda(worker, corpus, cfg) : undefined;
    await node.finalize();
    if (node.terminationError) throw node.terminationError;
    return { report, ...(measured ?? {}) };
  } catch (err) {
    await node.close();
    throw err;
  }
}
