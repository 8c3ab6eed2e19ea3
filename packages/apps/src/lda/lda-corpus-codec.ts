import { PsError, PsErrorCode } from '@ps/core';
import type { LdaCorpus, LdaDocs } from './lda-corpus.js';

/** The first 8 bytes of an encoded corpus (`PSLDA` and the format's version, 1). */
const MAGIC = new Uint8Array([0x50, 0x53, 0x4c, 0x44, 0x41, 0x00, 0x00, 0x01]);

/** The encoded corpus's header: the vocabulary and the lengths of its five Int32 arrays. */
export interface LdaCorpusHeader {
  vocabulary: string[];
  lengths: [number, number, number, number, number];
}

/**
 * A tokenized corpus ({@link LdaCorpus}) as bytes, what `pskv lda` writes once for its worker
 * processes (they read it instead of tokenizing the corpus each): the magic, the header's length
 * (uint32, little-endian), the header (JSON: the vocabulary, the arrays' lengths), zero bytes to
 * a multiple of 4, then the arrays as they are in memory: the training offsets and words, the
 * held-out offsets and words, the training counts (Int32, the platform's byte order).
 */
export function encodeLdaCorpus(corpus: LdaCorpus): Uint8Array {
  const arrays = [
    corpus.train.offsets,
    corpus.train.words,
    corpus.test.offsets,
    corpus.test.words,
    corpus.trainCounts,
  ];
  const header: LdaCorpusHeader = {
    vocabulary: corpus.vocabulary,
    lengths: arrays.map((a) => a.length) as LdaCorpusHeader['lengths'],
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 4) * 4;
  const out = new Uint8Array(start + arrays.reduce((n, a) => n + a.byteLength, 0));
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let at = start;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return out;
}

/**
 * The header of an encoded corpus whose first bytes are `bytes` (at least the magic, the length
 * and the JSON) and whose whole length is `totalLength`: the vocabulary, the arrays' lengths,
 * and where the arrays start.
 * @throws PsError `PS_ERR_DATASET` when it is not the header of a whole encoded corpus.
 */
export function parseLdaCorpusHeader(
  bytes: Uint8Array,
  totalLength: number,
): LdaCorpusHeader & { start: number } {
  if (bytes.length < 12 || MAGIC.some((b, i) => bytes[i] !== b)) throw notCorpus('no PSLDA header');
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, 12).getUint32(8, true);
  if (12 + jsonLength > bytes.length) throw notCorpus('the header is cut short');
  let header: LdaCorpusHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as LdaCorpusHeader;
  } catch {
    throw notCorpus('the header is not JSON');
  }
  const { vocabulary, lengths } = header;
  if (!Array.isArray(vocabulary) || !Array.isArray(lengths) || lengths.length !== 5)
    throw notCorpus('the header has no vocabulary or array lengths');
  if (!lengths.every((n) => Number.isInteger(n) && n >= 0)) throw notCorpus('an array length is not a count');
  const start = Math.ceil((12 + jsonLength) / 4) * 4;
  if (start + lengths.reduce((a, n) => a + n * 4, 0) !== totalLength)
    throw notCorpus(`${totalLength} bytes, not what the header's lengths need`);
  if (lengths[0] < 1 || lengths[2] < 1) throw notCorpus('no document offsets');
  if (lengths[4] !== vocabulary.length) throw notCorpus('the counts do not match the vocabulary');
  return { vocabulary, lengths, start };
}

/** The error of bytes that are not an encoded corpus. */
function notCorpus(why: string): PsError {
  return new PsError(
    PsErrorCode.DATASET,
    `not an encoded LDA corpus (${why}): run the job again to rewrite it`,
  );
}

/**
 * The corpus of {@link encodeLdaCorpus}'s bytes. The arrays are views on `bytes` when it is
 * 4-byte aligned (a copy otherwise).
 * @throws PsError `PS_ERR_DATASET` when `bytes` is not a whole encoded corpus.
 */
export function decodeLdaCorpus(bytes: Uint8Array): LdaCorpus {
  const { vocabulary, lengths, start } = parseLdaCorpusHeader(bytes, bytes.length);
  const aligned = (bytes.byteOffset + start) % 4 === 0 ? bytes : bytes.slice();
  let at = aligned.byteOffset + start;
  const [trainOffsets, trainWords, testOffsets, testWords, trainCounts] = lengths.map((n) => {
    const a = new Int32Array(aligned.buffer, at, n);
    at += n * 4;
    return a;
  }) as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  const docs = (offsets: Int32Array, words: Int32Array): LdaDocs => {
    if (offsets[0] !== 0 || offsets[offsets.length - 1] !== words.length)
      throw notCorpus('the offsets do not span the words');
    return { offsets, words };
  };
  return {
    vocabulary,
    train: docs(trainOffsets, trainWords),
    test: docs(testOffsets, testWords),
    trainCounts,
  };
}
