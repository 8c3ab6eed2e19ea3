// docs/errors.md lists every PsError code, and names no code that does not exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PsErrorCode } from './errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const lines = doc.split('\n');
const codes: string[] = Object.values(PsErrorCode);

/** The text of every Markdown heading. */
const headings = lines.filter((l) => /^#{1,6}\s/.test(l)).map((l) => l.replace(/^#{1,6}\s+/, ''));

/** The text of every table cell (rows of a pipe table, separator rows excluded). */
const cells = lines
  .filter((l) => /^\s*\|.*\|\s*$/.test(l) && !/^\s*\|[\s:|-]+\|\s*$/.test(l))
  .flatMap((l) => l.trim().slice(1, -1).split('|'))
  .map((c) => c.trim());

/** True when `text` is the code itself, optionally in backticks. */
const names = (text: string, code: string) => text.replace(/`/g, '').trim() === code;

describe('docs/errors.md', () => {
  it.each(codes)('lists %s as a heading or a table cell', (code) => {
    const listed = headings.some((h) => names(h, code)) || cells.some((c) => names(c, code));
    expect(listed, `${code} is not a heading or table cell of docs/errors.md`).toBe(true);
  });

  it('names no PS_ERR_ code that does not exist', () => {
    const known = new Set(codes);
    const mentioned = new Set(doc.match(/PS_ERR_[A-Z0-9_]+/g) ?? []);
    const unknown = [...mentioned].filter((c) => !known.has(c));
    expect(unknown).toEqual([]);
  });
});
