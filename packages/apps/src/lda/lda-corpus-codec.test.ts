import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { buildLdaCorpus } from './lda-corpus.js';
import { decodeLdaCorpus, encodeLdaCorpus } from './lda-corpus-codec.js';

const texts = Array.from(
  { length: 40 },
  (_, d) =>
    `${['market', 'prices', 'trade'][d % 3]} growth ${['oil', 'wheat', 'bank'][d % 3]} export ${d % 2 ? 'shares' : 'profit'} rates`,
);

describe('encodeLdaCorpus / decodeLdaCorpus', () => {
  it('round-trips a corpus exactly: vocabulary, documents and counts', () => {
    const corpus = buildLdaCorpus(texts);
    const back = decodeLdaCorpus(encodeLdaCorpus(corpus));
    expect(back).toEqual(corpus);
    expect(back.train.words).toBeInstanceOf(Int32Array);
    // At an offset that is not a multiple of 4 (a copy then): the same corpus.
    const bytes = encodeLdaCorpus(corpus);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(decodeLdaCorpus(shifted.subarray(1))).toEqual(corpus);
  });

  it('refuses bytes that are not a whole encoded corpus with PS_ERR_DATASET', () => {
    const bytes = encodeLdaCorpus(buildLdaCorpus(texts));
    for (const [bad, why] of [
      [new Uint8Array(4), /no PSLDA header/],
      [bytes.subarray(0, bytes.length - 4), /not what the header's lengths need/],
      [Uint8Array.from([...bytes.subarray(0, 12), 0x21, ...bytes.subarray(13)]), /the header is not JSON/],
    ] as const) {
      let thrown: unknown;
      try {
        decodeLdaCorpus(bad);
      } catch (e) {
        thrown = e;
      }
      expect(isPsError(thrown) && thrown.code === PsErrorCode.DATASET, String(thrown)).toBe(true);
      expect(String(thrown)).toMatch(why);
    }
  });
});
