import type { LdaEvaluation } from './evaluate-lda.js';
import type { LdaConfig } from './lda-config.js';
import type { LdaCorpus } from './lda-corpus.js';
import type { LdaWorkerReport } from './train-lda-worker.js';

/** What an LDA job measured: the `pskv lda --json` summary (snake case), the config included. */
export interface LdaSummary {
  dataset: LdaConfig['dataset'];
  docs_train: number;
  docs_held_out: number;
  vocabulary: number;
  tokens_train: number;
  /** Tokens scored: the second halves of the held-out documents. */
  tokens_held_out: number;
  topics: number;
  alpha: number;
  beta: number;
  sweeps: number;
  servers: number;
  workers: number;
  transport: LdaConfig['transport'];
  /** True when every server and worker ran as its own OS process. */
  processes: boolean;
  consistency: LdaConfig['consistency'];
  tau: number;
  batch_docs: number;
  seed: number;
  /** Held-out perplexity by document completion (see `heldOutPerplexity`). */
  perplexity: number;
  /** The same tokens under the training corpus's add-one smoothed unigram model. */
  unigram_perplexity: number;
  /** Tokens sampled by all workers over the slowest worker's sampling seconds. */
  tokens_per_s: number;
  /**
   * Tokens sampled over the CPU seconds of sampling: the worker processes' (each its own, summed),
   * or the one process's when every node shares it. On a loaded machine the steadier figure.
   */
  tokens_per_cpu_s: number;
  /** The slowest worker's sampling seconds (after the first counts were pushed). */
  train_seconds: number;
  /** The whole job, data loading and evaluation included. */
  seconds: number;
  /** The 10 most frequent words of each topic. */
  top_words: string[][];
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The summary of a job from its settings, corpus, the workers' reports and rank 0's evaluation. */
export function ldaSummary(
  cfg: LdaConfig,
  corpus: LdaCorpus,
  reports: readonly LdaWorkerReport[],
  evaluation: LdaEvaluation,
  seconds: number,
  processes: boolean,
): LdaSummary {
  const trainSeconds = Math.max(...reports.map((r) => r.seconds));
  const tokens = reports.reduce((a, r) => a + r.tokens, 0);
  // Nodes sharing one process each measured that process: its CPU time once, not per worker.
  const cpu = processes
    ? reports.reduce((a, r) => a + r.cpuSeconds, 0)
    : Math.max(...reports.map((r) => r.cpuSeconds));
  return {
    dataset: cfg.dataset,
    docs_train: corpus.train.offsets.length - 1,
    docs_held_out: corpus.test.offsets.length - 1,
    vocabulary: corpus.vocabulary.length,
    tokens_train: corpus.train.words.length,
    tokens_held_out: evaluation.heldOutTokens,
    topics: cfg.topics,
    alpha: cfg.alpha,
    beta: cfg.beta,
    sweeps: cfg.sweeps,
    servers: cfg.servers,
    workers: cfg.workers,
    transport: cfg.transport,
    processes,
    consistency: cfg.consistency,
    tau: cfg.tau,
    batch_docs: cfg.batchDocs,
    seed: cfg.seed,
    perplexity: round(evaluation.perplexity, 3),
    unigram_perplexity: round(evaluation.unigramPerplexity, 3),
    tokens_per_s: trainSeconds > 0 ? Math.round(tokens / trainSeconds) : 0,
    tokens_per_cpu_s: cpu > 0 ? Math.round(tokens / cpu) : 0,
    train_seconds: round(trainSeconds, 3),
    seconds: round(seconds, 3),
    top_words: evaluation.topWords,
  };
}
