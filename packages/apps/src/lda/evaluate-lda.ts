import { type KVWorker, seededRandom } from '@ps/core';
import { heldOutPerplexity, unigramPerplexity } from './held-out-perplexity.js';
import type { LdaConfig } from './lda-config.js';
import type { LdaCorpus } from './lda-corpus.js';
import { type LdaCounts, pullLdaCounts } from './pull-lda-counts.js';
import { topWords } from './top-words.js';

/** The trained model's measures (see {@link evaluateLda}). */
export interface LdaEvaluation {
  /** Held-out perplexity by document completion (see `heldOutPerplexity`). */
  perplexity: number;
  /** The same held-out tokens under the training unigram model, add-one smoothed. */
  unigramPerplexity: number;
  /** Held-out tokens scored (the second halves of the held-out documents). */
  heldOutTokens: number;
  /** The 10 most frequent words of each topic. */
  topWords: string[][];
}

/**
 * Pulls the whole model from the servers and measures it on the corpus's held-out documents
 * (the estimator's sampler seeded by `cfg.seed`). Returns the measures and the counts pulled.
 */
export async function evaluateLda(
  worker: KVWorker,
  corpus: LdaCorpus,
  cfg: LdaConfig,
): Promise<{ evaluation: LdaEvaluation; counts: LdaCounts }> {
  const V = corpus.vocabulary.length;
  const counts = await pullLdaCounts(worker, V, cfg.topics);
  const priors = { topics: cfg.topics, vocabulary: V, alpha: cfg.alpha, beta: cfg.beta };
  const held = heldOutPerplexity(counts, corpus.test, priors, seededRandom(cfg.seed ^ 0x5eed1da));
  return {
    evaluation: {
      perplexity: held.perplexity,
      unigramPerplexity: unigramPerplexity(corpus.trainCounts, corpus.test),
      heldOutTokens: held.tokens,
      topWords: topWords(counts.nwk, corpus.vocabulary, cfg.topics, 10),
    },
    counts,
  };
}
