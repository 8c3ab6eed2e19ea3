import { createRequire } from 'node:module';
import { PsError, PsErrorCode } from '@ps/core';

/**
 * Documents as word ids, in CSR form: document `d` is `words[offsets[d] .. offsets[d + 1])`,
 * each id in `[0, vocabulary.length)` of its {@link LdaCorpus}.
 */
export interface LdaDocs {
  /** Int32Array of length documents + 1, `offsets[0] = 0`, non-decreasing. */
  offsets: Int32Array;
  /** Int32Array of word ids, one per token. */
  words: Int32Array;
}

/** A tokenized corpus with its vocabulary and a fixed held-out split (see {@link buildLdaCorpus}). */
export interface LdaCorpus {
  /** The words, by id: the most frequent in the training documents first (ties: alphabetical). */
  vocabulary: string[];
  /** The training documents (those with at least one token in the vocabulary). */
  train: LdaDocs;
  /** The held-out documents (those with at least two tokens in the vocabulary). */
  test: LdaDocs;
  /** Occurrences of each word id in the training documents (Int32Array, vocabulary.length). */
  trainCounts: Int32Array;
}

/** Options of {@link buildLdaCorpus}. */
export interface LdaCorpusOptions {
  /** Every `heldOutEvery`-th document (index ≡ 0 mod n) is held out. Default 10 (a tenth). */
  heldOutEvery?: number;
  /** A word must occur in this many training documents to be in the vocabulary. Default 5. */
  minDocs?: number;
  /** A word in more than this share of the training documents is dropped. Default 0.5. */
  maxDocFraction?: number;
  /** Letters a word must have at least. Default 3. */
  minLength?: number;
}

let stopWords: Set<string> | undefined;

/**
 * The English list of the npm package `stopwords-iso` (1,298 words, lower case), read on first
 * use: its entry is a JSON file of every language's list.
 */
function englishStopWords(): Set<string> {
  stopWords ??= new Set((createRequire(import.meta.url)('stopwords-iso') as Record<string, string[]>).en);
  return stopWords;
}

/**
 * Splits a text into words for topic models: HTML line breaks removed, lower case, runs of the
 * letters a to z, at least `minLength` of them, not in the English stop-word list of the npm
 * package `stopwords-iso`.
 */
export function ldaTokens(text: string, minLength = 3): string[] {
  const stop = englishStopWords();
  const out: string[] = [];
  for (const m of text
    .replace(/<br\s*\/?>/gi, ' ')
    .toLowerCase()
    .matchAll(/[a-z]+/g)) {
    const w = m[0];
    if (w.length >= minLength && !stop.has(w)) out.push(w);
  }
  return out;
}

/**
 * Tokenizes `texts` with {@link ldaTokens}, holds every `heldOutEvery`-th document out (a split
 * that does not depend on a seed), builds the vocabulary from the training documents only
 * (rare words and words in too many documents dropped), and maps both sets to word ids;
 * held-out words outside the vocabulary are dropped. Deterministic.
 * @throws PsError `PS_ERR_CONFIG` for an option out of range; `PS_ERR_DATASET` when no word is
 *   left, or no training or held-out document.
 */
export function buildLdaCorpus(texts: readonly string[], opts: LdaCorpusOptions = {}): LdaCorpus {
  const every = opts.heldOutEvery ?? 10;
  const minDocs = opts.minDocs ?? 5;
  const maxFrac = opts.maxDocFraction ?? 0.5;
  const minLength = opts.minLength ?? 3;
  if (!Number.isInteger(every) || every < 2)
    throw new PsError(PsErrorCode.CONFIG, `heldOutEvery must be an integer ≥ 2, got ${every}`);
  if (!Number.isInteger(minDocs) || minDocs < 1)
    throw new PsError(PsErrorCode.CONFIG, `minDocs must be an integer ≥ 1, got ${minDocs}`);
  if (!(maxFrac > 0 && maxFrac <= 1))
    throw new PsError(PsErrorCode.CONFIG, `maxDocFraction must be in (0, 1], got ${maxFrac}`);
  const tokens = texts.map((t) => ldaTokens(t, minLength));
  const isTest = (d: number) => d % every === 0;
  const df = new Map<string, number>();
  const tf = new Map<string, number>();
  let trainDocs = 0;
  for (let d = 0; d < tokens.length; d++) {
    if (isTest(d)) continue;
    trainDocs++;
    for (const w of tokens[d]!) tf.set(w, (tf.get(w) ?? 0) + 1);
    for (const w of new Set(tokens[d])) df.set(w, (df.get(w) ?? 0) + 1);
  }
  const vocabulary = [...df]
    .filter(([, n]) => n >= minDocs && n <= maxFrac * trainDocs)
    .map(([w]) => w)
    .sort((a, b) => tf.get(b)! - tf.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
  if (vocabulary.length === 0)
    throw new PsError(
      PsErrorCode.DATASET,
      `no word occurs in at least ${minDocs} of the ${trainDocs} training documents: use more documents`,
    );
  const id = new Map(vocabulary.map((w, i) => [w, i]));
  const trainCounts = new Int32Array(vocabulary.length);
  const docs = (test: boolean, min: number): LdaDocs => {
    const offsets = [0];
    const words: number[] = [];
    for (let d = 0; d < tokens.length; d++) {
      if (isTest(d) !== test) continue;
      const start = words.length;
      for (const w of tokens[d]!) {
        const i = id.get(w);
        if (i !== undefined) words.push(i);
      }
      if (words.length - start < min) words.length = start;
      else offsets.push(words.length);
    }
    return { offsets: Int32Array.from(offsets), words: Int32Array.from(words) };
  };
  const train = docs(false, 1);
  const test = docs(true, 2);
  for (const w of train.words) trainCounts[w]!++;
  if (train.offsets.length < 2 || test.offsets.length < 2)
    throw new PsError(
      PsErrorCode.DATASET,
      `${texts.length} documents give ${train.offsets.length - 1} training and ${test.offsets.length - 1} held-out documents: use more documents`,
    );
  return { vocabulary, train, test, trainCounts };
}

/** Documents `[from, to)` of `docs` as a set of their own (offsets from 0; the words are a view). */
export function docsSlice(docs: LdaDocs, from: number, to: number): LdaDocs {
  const base = docs.offsets[from]!;
  return {
    offsets: docs.offsets.slice(from, to + 1).map((o) => o - base),
    words: docs.words.subarray(base, docs.offsets[to]!),
  };
}
