// Every relative link of README.md, docs/ and packages/*/README.md resolves to a file or folder
// inside this repository (and a #fragment to a heading of that page): the docs never point
// outside the repository.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { markdownDocs, withoutCode } from './helpers/markdown-docs.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The targets of a Markdown text's inline links `[text](target)` and definitions `[id]: target`. */
function linkTargets(text: string): string[] {
  const prose = withoutCode(text);
  const inline = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const defs = [...prose.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!);
  const html = [...prose.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
  return [...inline, ...defs, ...html];
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = withoutCode(readFileSync(file, 'utf8'));
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('links in the docs', () => {
  const docs = markdownDocs(root);

  it('finds the docs and their links', () => {
    expect(docs).toContain('README.md');
    expect(docs).toContain('docs/architecture.md');
    const all = docs.flatMap((d) => linkTargets(readFileSync(join(root, d), 'utf8')));
    expect(all.filter((t) => !/^[a-z]+:/i.test(t)).length).toBeGreaterThan(20);
  });

  it('resolve inside the repository, to files that exist, and to headings that exist', () => {
    const bad: string[] = [];
    for (const doc of docs) {
      const file = join(root, doc);
      for (const target of linkTargets(readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not a path
        const [path, fragment] = target.split('#') as [string, string | undefined];
        const to = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
        const rel = relative(root, to);
        if (rel.startsWith('..') || resolve(root, rel) !== to)
          bad.push(`${doc}: ${target} leaves the repository`);
        else if (!existsSync(to)) bad.push(`${doc}: ${target} does not exist`);
        else if (fragment && to.endsWith('.md') && !anchors(to).has(fragment)) {
          bad.push(`${doc}: ${target} names no heading of ${rel}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('name no path of the machine they were written on, nor a folder beside the repository', () => {
    for (const doc of docs) {
      const text = readFileSync(join(root, doc), 'utf8');
      expect(text, doc).not.toMatch(/\.\.\/shared\/|DESIGN\.md|\/work\//);
    }
  });
});
