/**
 * The `n` most frequent words of each topic: for topic k, the words with the largest n(w,k)
 * (ties: the lower word id first), given `nwk[w * K + k]` and the vocabulary by id.
 */
export function topWords(nwk: Int32Array, vocabulary: readonly string[], topics: number, n = 10): string[][] {
  const V = vocabulary.length;
  return Array.from({ length: topics }, (_, k) => {
    const ids = Array.from({ length: V }, (_, w) => w);
    ids.sort((a, b) => nwk[b * topics + k]! - nwk[a * topics + k]! || a - b);
    return ids.slice(0, Math.min(n, V)).map((w) => vocabulary[w]!);
  });
}
