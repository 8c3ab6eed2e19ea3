import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The repository's user-facing Markdown: README.md, docs/**\/*.md and packages/*\/README.md. */
export function markdownDocs(root: string): string[] {
  const docs: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) docs.push(relative(root, p));
    }
  };
  walk(join(root, 'docs'));
  const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join('packages', e.name, 'README.md'));
  return ['README.md', ...docs.sort(), ...packages.sort()];
}

/** A fenced code block: its language, its body, the line of its opening fence (1-based), the line before. */
export interface CodeBlock {
  lang: string;
  body: string;
  line: number;
  before: string;
}

/** The fenced (```) code blocks of a Markdown text. */
export function codeBlocks(text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith('```')) j++;
    blocks.push({
      lang: open[1]!,
      body: lines.slice(i + 1, j).join('\n'),
      line: i + 1,
      before: lines[i - 1] ?? '',
    });
    i = j;
  }
  return blocks;
}

/** Markdown text with its fenced code blocks and inline code spans blanked out. */
export function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}
