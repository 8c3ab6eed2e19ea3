import type { LdaPriors } from './gibbs-sampler.js';
import type { LdaDocs } from './lda-corpus.js';
import type { LdaCounts } from './pull-lda-counts.js';

/** Options of {@link heldOutPerplexity}. */
export interface HeldOutOptions {
  /** Gibbs sweeps over each document's first half. Default 40. */
  iterations?: number;
  /** Sweeps discarded before θ is averaged. Default half of `iterations`. */
  burnIn?: number;
}

/**
 * Held-out perplexity by document completion (Wallach et al., ICML 2009, section 5.1): with the
 * trained topics fixed, φ(w,k) = (n(w,k) + β) / (n(k) + Vβ), each held-out document's first half
 * (its first ⌊N/2⌋ tokens) is Gibbs-sampled for `iterations` sweeps (topics drawn with
 * probability ∝ (n(d,k) + α) · φ(w,k)) and θ(k) = (n(d,k) + α) / (N/2 + Kα) averaged over the
 * sweeps after `burnIn`; the perplexity is exp(−Σ log Σ_k θ(k) φ(w,k) / M) over the M tokens of
 * the second halves. Seeded by `rand`; returns the perplexity and M.
 */
export function heldOutPerplexity(
  counts: LdaCounts,
  test: LdaDocs,
  priors: LdaPriors,
  rand: () => number,
  opts: HeldOutOptions = {},
): { perplexity: number; tokens: number } {
  const { topics: K, vocabulary: V, alpha, beta } = priors;
  const iterations = opts.iterations ?? 40;
  const burnIn = opts.burnIn ?? Math.floor(iterations / 2);
  const phi = new Float64Array(V * K);
  for (let w = 0; w < V; w++)
    for (let k = 0; k < K; k++) phi[w * K + k] = (counts.nwk[w * K + k]! + beta) / (counts.nk[k]! + V * beta);
  const { offsets, words } = test;
  const z = new Int32Array(words.length);
  const ndk = new Int32Array(K);
  const theta = new Float64Array(K);
  const p = new Float64Array(K);
  let logLik = 0;
  let tokens = 0;
  for (let d = 0; d + 1 < offsets.length; d++) {
    const start = offsets[d]!;
    const end = offsets[d + 1]!;
    const half = start + Math.floor((end - start) / 2);
    ndk.fill(0);
    theta.fill(0);
    for (let i = start; i < half; i++) {
      z[i] = Math.floor(rand() * K);
      ndk[z[i]!]!++;
    }
    for (let it = 0; it < iterations; it++) {
      for (let i = start; i < half; i++) {
        const wk = words[i]! * K;
        ndk[z[i]!]!--;
        let sum = 0;
        for (let k = 0; k < K; k++) {
          sum += (ndk[k]! + alpha) * phi[wk + k]!;
          p[k] = sum;
        }
        const u = rand() * sum;
        let k = 0;
        while (k < K - 1 && p[k]! <= u) k++;
        z[i] = k;
        ndk[k]!++;
      }
      if (it >= burnIn) for (let k = 0; k < K; k++) theta[k]! += ndk[k]! + alpha;
    }
    const norm = (iterations - burnIn) * (half - start + K * alpha);
    for (let i = half; i < end; i++) {
      const wk = words[i]! * K;
      let pw = 0;
      for (let k = 0; k < K; k++) pw += theta[k]! * phi[wk + k]!;
      logLik += Math.log(pw / norm);
      tokens++;
    }
  }
  return { perplexity: Math.exp(-logLik / tokens), tokens };
}

/**
 * The perplexity of the same held-out tokens as {@link heldOutPerplexity} (each document's second
 * half) under the training corpus's unigram model with add-one smoothing:
 * p(w) = (count(w) + 1) / (N + V).
 */
export function unigramPerplexity(trainCounts: Int32Array, test: LdaDocs): number {
  const V = trainCounts.length;
  let N = 0;
  for (const c of trainCounts) N += c;
  const { offsets, words } = test;
  let logLik = 0;
  let tokens = 0;
  for (let d = 0; d + 1 < offsets.length; d++) {
    const start = offsets[d]!;
    const end = offsets[d + 1]!;
    for (let i = start + Math.floor((end - start) / 2); i < end; i++) {
      logLik += Math.log((trainCounts[words[i]!]! + 1) / (N + V));
      tokens++;
    }
  }
  return Math.exp(-logLik / tokens);
}
