import { seededRandom } from '@ps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GibbsSampler } from './gibbs-sampler.js';
import type { LdaDocs } from './lda-corpus.js';

/** Random small corpora: up to 8 documents of up to 30 tokens over a vocabulary of V words. */
const corpora = fc
  .record({ V: fc.integer({ min: 1, max: 12 }), K: fc.integer({ min: 2, max: 6 }) })
  .chain(({ V, K }) =>
    fc.record({
      V: fc.constant(V),
      K: fc.constant(K),
      docs: fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 30 }), {
        minLength: 1,
        maxLength: 8,
      }),
      seed: fc.integer({ min: 0, max: 2 ** 31 }),
      alpha: fc.double({ min: 0.01, max: 5, noNaN: true }),
      beta: fc.double({ min: 0.01, max: 2, noNaN: true }),
      sweeps: fc.integer({ min: 1, max: 4 }),
    }),
  );

function toDocs(docs: number[][]): LdaDocs {
  const offsets = [0];
  for (const d of docs) offsets.push(offsets.at(-1)! + d.length);
  return { offsets: Int32Array.from(offsets), words: Int32Array.from(docs.flat()) };
}

/** n(w,k), n(k) and n(d,k) counted afresh from the assignment z. */
function recount(docs: LdaDocs, z: Int32Array, V: number, K: number) {
  const nwk = new Int32Array(V * K);
  const nk = new Int32Array(K);
  const ndk = new Int32Array((docs.offsets.length - 1) * K);
  for (let d = 0; d + 1 < docs.offsets.length; d++)
    for (let i = docs.offsets[d]!; i < docs.offsets[d + 1]!; i++) {
      nwk[docs.words[i]! * K + z[i]!]!++;
      nk[z[i]!]!++;
      ndk[d * K + z[i]!]!++;
    }
  return { nwk, nk, ndk };
}

describe('GibbsSampler', () => {
  it('keeps the counts those of its assignment: Σ_w n(w,k) = n(k), every count ≥ 0, topics in [0, K)', () => {
    fc.assert(
      fc.property(corpora, ({ V, K, docs: raw, seed, alpha, beta, sweeps }) => {
        const docs = toDocs(raw);
        const s = new GibbsSampler(docs, { topics: K, vocabulary: V, alpha, beta }, seededRandom(seed));
        const nwk = new Int32Array(V * K);
        const nk = new Int32Array(K);
        s.initialize(nwk, nk);
        for (let t = 0; t < sweeps; t++) {
          expect(s.sample(0, raw.length, nwk, nk)).toBe(docs.words.length);
          for (let k = 0; k < K; k++) {
            let sum = 0;
            for (let w = 0; w < V; w++) sum += nwk[w * K + k]!;
            expect(sum).toBe(nk[k]);
          }
          expect(nwk.every((c) => c >= 0) && nk.every((c) => c >= 0) && s.ndk.every((c) => c >= 0)).toBe(
            true,
          );
          expect(s.z.every((k) => k >= 0 && k < K)).toBe(true);
          const fresh = recount(docs, s.z, V, K);
          expect(nwk).toEqual(fresh.nwk);
          expect(nk).toEqual(fresh.nk);
          expect(s.ndk).toEqual(fresh.ndk);
        }
      }),
    );
  });

  it('samples a word through a row map exactly as with the full table (rows[w] picks the row)', () => {
    fc.assert(
      fc.property(corpora, ({ V, K, docs: raw, seed, alpha, beta }) => {
        const docs = toDocs(raw);
        const priors = { topics: K, vocabulary: V, alpha, beta };
        const a = new GibbsSampler(docs, priors, seededRandom(seed));
        const b = new GibbsSampler(docs, priors, seededRandom(seed));
        const full = new Int32Array(V * K);
        const nkA = new Int32Array(K);
        a.initialize(full, nkA);
        // b's table holds the words in reverse order.
        const rows = Int32Array.from({ length: V }, (_, w) => V - 1 - w);
        const reversed = new Int32Array(V * K);
        const nkB = new Int32Array(K);
        b.initialize(reversed, nkB, rows);
        a.sample(0, raw.length, full, nkA);
        b.sample(0, raw.length, reversed, nkB, rows);
        expect(b.z).toEqual(a.z);
        for (let w = 0; w < V; w++)
          expect(reversed.subarray(rows[w]! * K, rows[w]! * K + K)).toEqual(full.subarray(w * K, w * K + K));
      }),
    );
  });

  it('draws from the conditional: a word seen only under topic 0 (β small) keeps topic 0', () => {
    // Two words, K = 2: word 0 in doc 0, word 1 in doc 1, 50 tokens each. Start with word 0's
    // tokens in topic 0 and word 1's in topic 1 (a draw of rand() < 0.5, then ≥ 0.5).
    const docs = toDocs([Array(50).fill(0), Array(50).fill(1)]);
    let i = 0;
    const init = () => (i++ < 50 ? 0.25 : 0.75);
    const s = new GibbsSampler(docs, { topics: 2, vocabulary: 2, alpha: 0.01, beta: 0.001 }, init);
    const nwk = new Int32Array(4);
    const nk = new Int32Array(2);
    s.initialize(nwk, nk);
    expect(Array.from(nwk)).toEqual([50, 0, 0, 50]);
    // A token of word 0 in doc 0 leaves 49 + 0.01 vs 0 + 0.01 for n(d,k) and 49 vs 0 for n(w,k):
    // p(topic 1) ≈ 1e-4 · 2e-5: every draw but the very top of [0, 1) keeps topic 0.
    const rand = seededRandom(3);
    const t = new GibbsSampler(docs, s.priors, rand);
    t.z.set(s.z);
    t.ndk.set(s.ndk);
    t.sample(0, 2, nwk, nk);
    expect(Array.from(nwk)).toEqual([50, 0, 0, 50]);
    expect(Array.from(nk)).toEqual([50, 50]);
  });

  it('reads a count below zero in a stale copy as zero', () => {
    // One token of word 0, first drawn in topic 0 (rand 0.1), sampled against a copy that does not
    // hold it yet: n(0,0) = 0 and n(0) = 0 become −1 once the token is taken out. Read as 0, topic
    // 0 weighs α · 0.1 / 0.4 against α · 5.1 / 5.4 for topic 1, so u = 0.3 · Σ picks topic 1; read
    // as −1 it would weigh α · (−0.9) / (−0.6), and pick topic 0.
    const draws = [0.1, 0.3];
    const s = new GibbsSampler(
      toDocs([[0]]),
      { topics: 2, vocabulary: 4, alpha: 1, beta: 0.1 },
      () => draws.shift()!,
    );
    s.initialize(new Int32Array(8), new Int32Array(2));
    expect(s.z[0]).toBe(0);
    const nwk = Int32Array.from([0, 5, 0, 0, 0, 0, 0, 0]);
    const nk = Int32Array.from([0, 5]);
    s.sample(0, 1, nwk, nk);
    expect(s.z[0]).toBe(1);
    expect(Array.from(nwk.subarray(0, 2))).toEqual([-1, 6]);
    expect(Array.from(nk)).toEqual([-1, 6]);
  });
});
