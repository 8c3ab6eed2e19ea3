// LDA on the parameter server against a plain sampler: with one worker and sequential
// consistency, the counts the servers end with are exactly those of a single-process collapsed
// Gibbs sampler written here from the formula (not the package's GibbsSampler), same seed.
import { seededRandom } from '@ps/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadReuters } from '../data/load-reuters.js';
import { resolveLdaConfig } from './lda-config.js';
import { buildLdaCorpus, type LdaCorpus } from './lda-corpus.js';
import { runLda } from './run-lda.js';

/** Griffiths & Steyvers' sampler with global counts, one pass per sweep over every token. */
function referenceSampler(
  corpus: LdaCorpus,
  K: number,
  alpha: number,
  beta: number,
  sweeps: number,
  seed: number,
) {
  const { offsets, words } = corpus.train;
  const V = corpus.vocabulary.length;
  const rand = seededRandom(seed);
  const z = new Int32Array(words.length);
  const ndk = new Int32Array((offsets.length - 1) * K);
  const nwk = new Int32Array(V * K);
  const nk = new Int32Array(K);
  for (let d = 0; d + 1 < offsets.length; d++)
    for (let i = offsets[d]!; i < offsets[d + 1]!; i++) {
      const k = Math.floor(rand() * K);
      z[i] = k;
      ndk[d * K + k]!++;
      nwk[words[i]! * K + k]!++;
      nk[k]!++;
    }
  const cum = new Float64Array(K);
  for (let s = 0; s < sweeps; s++)
    for (let d = 0; d + 1 < offsets.length; d++)
      for (let i = offsets[d]!; i < offsets[d + 1]!; i++) {
        const w = words[i]!;
        let k = z[i]!;
        ndk[d * K + k]!--;
        nwk[w * K + k]!--;
        nk[k]!--;
        let sum = 0;
        for (let j = 0; j < K; j++) {
          sum += ((ndk[d * K + j]! + alpha) * (nwk[w * K + j]! + beta)) / (nk[j]! + V * beta);
          cum[j] = sum;
        }
        const u = rand() * sum;
        k = 0;
        while (k < K - 1 && cum[k]! <= u) k++;
        z[i] = k;
        ndk[d * K + k]!++;
        nwk[w * K + k]!++;
        nk[k]!++;
      }
  return { nwk, nk };
}

let corpus: LdaCorpus;
beforeAll(async () => {
  corpus = buildLdaCorpus((await loadReuters()).texts.slice(0, 200), { minDocs: 2 });
});

describe('runLda', () => {
  it('with 1 worker and sequential consistency ends with the counts of a plain sampler (200 Reuters documents, 3 sweeps, over TCP)', async () => {
    const cfg = resolveLdaConfig({
      dataset: 'reuters',
      docs: 200,
      topics: 8,
      sweeps: 3,
      servers: 2,
      workers: 1,
      batchDocs: 40,
      consistency: 'sequential',
      seed: 7,
      transport: 'tcp',
    });
    const { summary, counts } = await runLda(cfg, { corpus });
    const ref = referenceSampler(corpus, cfg.topics, cfg.alpha, cfg.beta, cfg.sweeps, cfg.seed);
    expect(corpus.train.words.length).toBeGreaterThan(5000);
    expect(Array.from(counts.nk)).toEqual(Array.from(ref.nk));
    expect(counts.nwk).toEqual(ref.nwk);
    expect(summary).toMatchObject({ workers: 1, servers: 2, sweeps: 3, tau: 0, topics: 8 });
    expect(summary.tokens_train).toBe(corpus.train.words.length);
    expect(counts.nk.reduce((a, b) => a + b, 0)).toBe(corpus.train.words.length);
  }, 60_000);

  it('with 3 workers under bounded delay (τ 3) loses no delta: the counts on the servers are those of a topic per token', async () => {
    const cfg = resolveLdaConfig({
      dataset: 'reuters',
      docs: 200,
      topics: 8,
      sweeps: 4,
      servers: 2,
      workers: 3,
      batchDocs: 10,
      consistency: 'bounded',
      tau: 3,
      seed: 11,
      transport: 'tcp',
    });
    const { counts } = await runLda(cfg, { corpus });
    const K = cfg.topics;
    const V = corpus.vocabulary.length;
    expect(counts.nwk.every((c) => c >= 0)).toBe(true);
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let w = 0; w < V; w++) sum += counts.nwk[w * K + k]!;
      expect(sum).toBe(counts.nk[k]);
    }
    // Every word keeps its number of tokens, whatever their topics.
    for (let w = 0; w < V; w++) {
      let n = 0;
      for (let k = 0; k < K; k++) n += counts.nwk[w * K + k]!;
      expect(n).toBe(corpus.trainCounts[w]);
    }
  }, 60_000);
});
