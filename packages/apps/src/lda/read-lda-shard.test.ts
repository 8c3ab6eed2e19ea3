import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLdaCorpus, docsSlice } from './lda-corpus.js';
import { encodeLdaCorpus } from './lda-corpus-codec.js';
import { readLdaShard } from './read-lda-shard.js';

const dir = mkdtempSync(join(tmpdir(), 'ps-lda-shard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const words = ['market', 'prices', 'trade', 'growth', 'oil', 'wheat', 'bank', 'export', 'shares', 'profit'];
const texts = Array.from({ length: 53 }, (_, d) =>
  Array.from({ length: 3 + (d % 5) }, (_, i) => words[(d * 3 + i * 7) % words.length]).join(' '),
);

describe('readLdaShard', () => {
  it("reads a worker's documents exactly, and the whole corpus's vocabulary, held-out set and counts", async () => {
    const corpus = buildLdaCorpus(texts, { maxDocFraction: 1 });
    const file = join(dir, 'corpus.pslda');
    writeFileSync(file, encodeLdaCorpus(corpus));
    const D = corpus.train.offsets.length - 1;
    for (const workers of [1, 3, 4]) {
      let tokens = 0;
      for (let rank = 0; rank < workers; rank++) {
        const view = await readLdaShard(file, rank, workers);
        const from = Math.floor((rank * D) / workers);
        const to = Math.floor(((rank + 1) * D) / workers);
        const mine = docsSlice(view.train, from, to);
        expect(mine).toEqual(docsSlice(corpus.train, from, to));
        // Only this worker's words were read: the other workers' documents are empty.
        expect(view.train.words.length).toBe(mine.words.length);
        expect(view.train.offsets.length).toBe(D + 1);
        tokens += view.train.words.length;
        expect(view.vocabulary).toEqual(corpus.vocabulary);
        expect(view.test).toEqual(corpus.test);
        expect(view.trainCounts).toEqual(corpus.trainCounts);
      }
      expect(tokens).toBe(corpus.train.words.length);
    }
  });

  it('refuses a file that is cut short with PS_ERR_DATASET', async () => {
    const bytes = encodeLdaCorpus(buildLdaCorpus(texts, { maxDocFraction: 1 }));
    const file = join(dir, 'short.pslda');
    writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    const err = await readLdaShard(file, 0, 2).catch((e: unknown) => e);
    expect(isPsError(err) && err.code === PsErrorCode.DATASET, String(err)).toBe(true);
    expect(String(err)).toMatch(/not what the header's lengths need/);
  });
});
