import type { LdaDocs } from './lda-corpus.js';

/** The model's sizes and Dirichlet priors. */
export interface LdaPriors {
  /** K, the number of topics. */
  topics: number;
  /** V, the vocabulary's size (for the denominator n(k) + Vβ). */
  vocabulary: number;
  /** α, the symmetric prior of each document's topic mixture θ. */
  alpha: number;
  /** β, the symmetric prior of each topic's word distribution φ. */
  beta: number;
}

/**
 * Collapsed Gibbs sampling for LDA (Griffiths & Steyvers, PNAS 2004) over one set of
 * documents: it owns the topic assignment `z` of every token and the document–topic counts
 * `ndk`; the word–topic counts n(w,k) and the topic totals n(k) are passed in, so that they can
 * be a worker's copy of what the servers hold.
 *
 * Counts are Int32Arrays: `nwk[row(w) * K + k]` = n(w,k), where `row(w)` is `rows[w]` (a map
 * from word id to a row of the passed table; `undefined`: the word id itself), and `nk[k]` =
 * n(k). The arrays are changed in place; nothing is allocated per token.
 */
export class GibbsSampler {
  /** The topic of each token, in the order of `docs.words`. */
  readonly z: Int32Array;
  /** n(d,k): `ndk[d * K + k]`, d the document's index in `docs`. */
  readonly ndk: Int32Array;
  private readonly p: Float64Array;

  constructor(
    readonly docs: LdaDocs,
    readonly priors: LdaPriors,
    private readonly rand: () => number,
  ) {
    this.z = new Int32Array(docs.words.length);
    this.ndk = new Int32Array((docs.offsets.length - 1) * priors.topics);
    this.p = new Float64Array(priors.topics);
  }

  /**
   * Gives every token a topic drawn uniformly (`floor(rand() · K)`, one draw per token in
   * order) and adds the counts to `ndk`, `nwk` and `nk`.
   */
  initialize(nwk: Int32Array, nk: Int32Array, rows?: Int32Array): void {
    const K = this.priors.topics;
    const { offsets, words } = this.docs;
    for (let d = 0; d + 1 < offsets.length; d++) {
      for (let i = offsets[d]!; i < offsets[d + 1]!; i++) {
        const k = Math.floor(this.rand() * K);
        const w = words[i]!;
        this.z[i] = k;
        this.ndk[d * K + k]!++;
        nwk[(rows ? rows[w]! : w) * K + k]!++;
        nk[k]!++;
      }
    }
  }

  /**
   * One Gibbs step for each token of documents `[from, to)`, in order: the token's topic is taken
   * out of the counts, a new one drawn with probability proportional to
   * `(n(d,k) + α) · (n(w,k) + β) / (n(k) + Vβ)` (evaluated in this order, in float64; counts below
   * zero, which a stale copy can hold, read as 0), by one draw u = rand() · Σ against the running
   * sum, and put back into the counts. Returns the number of tokens sampled.
   */
  sample(from: number, to: number, nwk: Int32Array, nk: Int32Array, rows?: Int32Array): number {
    const { topics: K, alpha, beta } = this.priors;
    const vBeta = this.priors.vocabulary * beta;
    const { offsets, words } = this.docs;
    const { z, ndk, p } = this;
    for (let d = from; d < to; d++) {
      const dk = d * K;
      for (let i = offsets[d]!; i < offsets[d + 1]!; i++) {
        const w = words[i]!;
        const wk = (rows ? rows[w]! : w) * K;
        const old = z[i]!;
        ndk[dk + old]!--;
        nwk[wk + old]!--;
        nk[old]!--;
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const nw = nwk[wk + k]!;
          const n = nk[k]!;
          sum += ((ndk[dk + k]! + alpha) * ((nw > 0 ? nw : 0) + beta)) / ((n > 0 ? n : 0) + vBeta);
          p[k] = sum;
        }
        const u = this.rand() * sum;
        let k = 0;
        while (k < K - 1 && p[k]! <= u) k++;
        z[i] = k;
        ndk[dk + k]!++;
        nwk[wk + k]!++;
        nk[k]!++;
      }
    }
    return offsets[to]! - offsets[from]!;
  }
}
