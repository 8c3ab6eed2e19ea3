import { bucketsToKeys, keyBitsFor } from '../slr/feature-keys.js';

/**
 * The keys of the LDA model on the servers: one key per word, holding its K counts n(w,0..K−1),
 * and after the last word (index V) one key holding the K topic totals n(k). Index i has the key
 * `i << (64 − bits)`, bits = ⌈log2(V + 1)⌉: the keys keep the words' order and spread evenly
 * over the key space, so the servers' ranges split the vocabulary evenly.
 * @param words strictly increasing word ids, each `< vocabulary`
 * @returns `words.length + 1` strictly increasing keys: the words', then the totals' key
 */
export function ldaKeys(words: Uint32Array, vocabulary: number): BigUint64Array {
  const ids = new Uint32Array(words.length + 1);
  ids.set(words);
  ids[words.length] = vocabulary;
  return bucketsToKeys(ids, keyBitsFor(vocabulary + 1));
}
