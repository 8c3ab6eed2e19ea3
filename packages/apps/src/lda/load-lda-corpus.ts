import { loadImdb } from '../data/load-imdb.js';
import { loadReuters } from '../data/load-reuters.js';
import type { LdaConfig } from './lda-config.js';
import { buildLdaCorpus, type LdaCorpus } from './lda-corpus.js';

/**
 * The corpus of a job: the texts of `cfg.dataset` (Reuters-21578 bodies or IMDB reviews), the
 * first `cfg.docs` of them when it is not 0, through {@link buildLdaCorpus} with its defaults.
 * Every process of a job builds the same corpus from the same settings.
 * @throws PsError `PS_ERR_DATASET` when the data set's package is not installed or too few
 *   documents are left.
 */
export async function loadLdaCorpus(cfg: Pick<LdaConfig, 'dataset' | 'docs'>): Promise<LdaCorpus> {
  const { texts } = cfg.dataset === 'imdb' ? await loadImdb() : await loadReuters();
  return buildLdaCorpus(cfg.docs > 0 ? texts.slice(0, cfg.docs) : texts);
}
