// The README's two commands for a fresh machine, as a checker reads them: a heading, then a `sh`
// block whose first line is the whole command; `.ci/run` runs the test line as written, and the
// set-up script it calls leaves this machine with every Debian package the tests use.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

/** The first line of the first `sh` block after the heading `## <title>`. */
function commandUnder(title: string): string | undefined {
  const at = readme.indexOf(`\n## ${title}\n`);
  if (at < 0) return undefined;
  const block = /```sh\n([^\n]*)\n/.exec(readme.slice(at));
  return block?.[1];
}

describe("the README's commands for a fresh machine", () => {
  it('gives the main job and the tests each as one line under its heading', () => {
    expect(commandUnder('Run the main job')).toBe('npm ci && npm start');
    const test = commandUnder('Pass the tests');
    expect(test).toBe('bash scripts/setup-machine.sh && npm ci && npm test');
  });

  it('is the line .ci/run runs', () => {
    const ci = readFileSync(`${root}.ci/run`, 'utf8');
    const awk = /test_line="\$\(awk '([^']+)' README\.md\)"/.exec(ci)?.[1];
    expect(awk, '.ci/run extracts the line with awk').toBeDefined();
    const extracted = execFileSync('awk', [awk!, 'README.md'], { cwd: root, encoding: 'utf8' }).trim();
    expect(extracted).toBe(commandUnder('Pass the tests'));
  });

  it('the set-up script finds every Debian package the tests use installed (it ran first)', () => {
    const run = spawnSync('bash', ['scripts/setup-machine.sh'], { cwd: root, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/the Debian packages the tests use are installed/);
    for (const file of ['/usr/bin/chromium', '/usr/bin/liblinear-train', '/usr/bin/openssl', '/usr/bin/ss']) {
      expect(spawnSync('test', ['-x', file]).status, `${file} is installed`).toBe(0);
    }
  });
});
