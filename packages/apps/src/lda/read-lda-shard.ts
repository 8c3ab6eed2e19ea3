import { open } from 'node:fs/promises';
import { PsError, PsErrorCode } from '@ps/core';
import type { LdaCorpus } from './lda-corpus.js';
import { parseLdaCorpusHeader } from './lda-corpus-codec.js';

/**
 * Worker `rank` of `workers`'s view of a corpus file ({@link encodeLdaCorpus}'s bytes): reads the
 * header, this worker's training documents (`floor(rank·D/W)` to `floor((rank+1)·D/W)`, the slice
 * `trainLdaWorker` takes), the held-out documents and the training counts, and none of the other
 * workers' words. In the corpus it returns, the other workers' training documents are empty:
 * `docsSlice(corpus.train, from, to)` is this worker's, and the vocabulary, the document count,
 * the held-out set and the counts are the whole corpus's.
 * @throws PsError `PS_ERR_DATASET` when the file is not a whole encoded corpus.
 */
export async function readLdaShard(file: string, rank: number, workers: number): Promise<LdaCorpus> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const read = async (position: number, length: number) => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      if (bytesRead !== length)
        throw new PsError(PsErrorCode.DATASET, `${file} is cut short: run the job again to rewrite it`);
      return buf;
    };
    const head = await read(0, Math.min(size, 12));
    const jsonLength = head.length === 12 ? new DataView(head.buffer).getUint32(8, true) : 0;
    const { vocabulary, lengths, start } = parseLdaCorpusHeader(
      jsonLength > 0 ? await read(0, Math.min(size, 12 + jsonLength)) : head,
      size,
    );
    const [trainOffsetCount, trainWordCount, testOffsetCount, testWordCount, countCount] = lengths;
    const ints = async (at: number, n: number) => new Int32Array((await read(at, n * 4)).buffer);
    const D = trainOffsetCount - 1;
    const from = Math.floor((rank * D) / workers);
    const to = Math.floor(((rank + 1) * D) / workers);
    const mine = await ints(start + from * 4, to - from + 1);
    const wordsAt = start + trainOffsetCount * 4;
    const base = mine[0]!;
    if (!(base >= 0 && mine[to - from]! >= base && mine[to - from]! <= trainWordCount))
      throw new PsError(
        PsErrorCode.DATASET,
        `${file}: its document offsets do not fit its words: run the job again`,
      );
    const words = await ints(wordsAt + base * 4, mine[to - from]! - base);
    // Every document before this worker's ends at 0, every one after at the shard's last word.
    const offsets = new Int32Array(trainOffsetCount);
    for (let d = from; d <= to; d++) offsets[d] = mine[d - from]! - base;
    offsets.fill(words.length, to + 1);
    const testAt = wordsAt + trainWordCount * 4;
    const testOffsets = await ints(testAt, testOffsetCount);
    const testWords = await ints(testAt + testOffsetCount * 4, testWordCount);
    const trainCounts = await ints(testAt + (testOffsetCount + testWordCount) * 4, countCount);
    return {
      vocabulary,
      train: { offsets, words },
      test: { offsets: testOffsets, words: testWords },
      trainCounts,
    };
  } finally {
    await fh.close();
  }
}
