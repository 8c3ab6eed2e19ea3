import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SparseDataset, validateDataset } from './dataset.js';
import { loadDataset } from './load-dataset.js';

/** Largest deviation of a non-empty row's squared L2 norm from 1, and the number of empty rows. */
function normStats(ds: SparseDataset): { maxDev: number; empty: number } {
  let maxDev = 0;
  let empty = 0;
  for (let r = 0; r < ds.rows; r++) {
    const begin = ds.indptr[r]!;
    const end = ds.indptr[r + 1]!;
    if (end === begin) {
      empty++;
      continue;
    }
    let s = 0;
    for (let k = begin; k < end; k++) s += ds.values[k]! * ds.values[k]!;
    maxDev = Math.max(maxDev, Math.abs(s - 1));
  }
  return { maxDev, empty };
}

describe('loadDataset', () => {
  it("'spam' gives 6,046 hashed rows, unit norm, sorted unique indices", async () => {
    const ds = validateDataset(await loadDataset('spam', { bits: 18 }));
    expect(ds.name).toBe('spam');
    expect(ds.rows).toBe(6046);
    expect(ds.features).toBe(2 ** 18);
    expect(ds.labels.reduce((a, y) => a + y, 0)).toBe(1896);
    const { maxDev, empty } = normStats(ds);
    expect(maxDev).toBeLessThan(1e-5);
    expect(empty).toBeLessThan(10);
    expect(ds.indices.length / ds.rows).toBeGreaterThan(50);
  });

  it("'imdb' gives 50,000 hashed rows, unit norm, sorted unique indices", async () => {
    const ds = validateDataset(await loadDataset('imdb'));
    expect(ds.name).toBe('imdb');
    expect(ds.rows).toBe(50_000);
    expect(ds.features).toBe(2 ** 20);
    expect(ds.labels.reduce((a, y) => a + y, 0)).toBe(25_000);
    const { maxDev, empty } = normStats(ds);
    expect(maxDev).toBeLessThan(1e-5);
    expect(empty).toBe(0);
    // ~230 words per review -> a few hundred distinct unigrams + bigrams
    expect(ds.indices.length / ds.rows).toBeGreaterThan(200);
  });

  describe('a LIBSVM path', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ps-load-dataset-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('is read with loadLibsvm; bits sets the dimension, normalize scales rows', async () => {
      const path = join(dir, 'tiny.svm');
      await writeFile(path, '+1 1:3 2:4\n-1 3:1\n');
      const plain = validateDataset(await loadDataset(path));
      expect(plain.name).toBe('tiny.svm');
      expect(plain.features).toBe(3);
      expect(Array.from(plain.values)).toEqual([3, 4, 1]);
      const wide = validateDataset(await loadDataset(path, { bits: 4, normalize: true }));
      expect(wide.features).toBe(16);
      expect(Array.from(wide.values)).toEqual([0.6, 0.8, 1].map(Math.fround));
    });

    it('rejects a missing file, or an unknown name, with PS_ERR_DATASET listing the built-in names', async () => {
      for (const name of [join(dir, 'missing.svm'), 'mnist']) {
        const err = await loadDataset(name).catch((e: unknown) => e);
        expect(isPsError(err, PsErrorCode.DATASET)).toBe(true);
        expect((err as Error).message).toContain(
          `no data set '${name}': it is neither a built-in data set (imdb, spam) nor an existing file`,
        );
      }
    });

    it('rejects an empty file and a directory with PS_ERR_DATASET', async () => {
      const empty = join(dir, 'empty.svm');
      await writeFile(empty, '# only a comment\n\n');
      await expect(loadDataset(empty)).rejects.toThrow(/empty.svm: no examples/);
      const err = await loadDataset(dir).catch((e: unknown) => e);
      expect(isPsError(err, PsErrorCode.DATASET)).toBe(true);
      expect((err as Error).message).toContain(`cannot read the LIBSVM file ${dir}: EISDIR`);
    });
  });
});
