import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

// What a project that installs the packages gets: LICENSE, ESM and CommonJS builds, no tests.
// Runs against the built dist/ (`npm test` builds first).

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['core', 'transport-inproc', 'transport-tcp', 'transport-ws', 'filters', 'apps'];

interface PackageJson {
  name: string;
  license: string;
  sideEffects: boolean;
  files: string[];
  exports: Record<string, unknown>;
}

const pkgJson = (p: string): PackageJson =>
  JSON.parse(readFileSync(`${root}packages/${p}/package.json`, 'utf8')) as PackageJson;

/** Every `{ types, default }` leaf of an exports map, with the conditions that lead to it. */
function leaves(
  node: unknown,
  path: string[] = [],
): { path: string[]; keys: string[]; value: Record<string, string> }[] {
  if (typeof node !== 'object' || node === null) return [];
  const o = node as Record<string, unknown>;
  if ('default' in o) return [{ path, keys: Object.keys(o), value: o as Record<string, string> }];
  return Object.entries(o).flatMap(([k, v]) => leaves(v, [...path, k]));
}

afterEach(killAll);

describe('packaging', () => {
  it('ships the Apache-2.0 LICENSE at the root and in every package', () => {
    const text = readFileSync(`${root}LICENSE`, 'utf8');
    expect(text).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    for (const p of PACKAGES) {
      expect(readFileSync(`${root}packages/${p}/LICENSE`, 'utf8'), p).toBe(text);
      const j = pkgJson(p);
      expect(j.license, p).toBe('Apache-2.0');
      expect(j.files, p).toContain('LICENSE');
      expect(j.sideEffects, p).toBe(false);
    }
  });

  it('packs LICENSE, README.md and dist, and no test file, in every tarball', () => {
    for (const p of PACKAGES) {
      const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: `${root}packages/${p}`,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
      expect(files, p).toContain('LICENSE');
      expect(files, p).toContain('README.md');
      expect(files, p).toContain('package.json');
      expect(
        files.filter((f) => /\.test\./.test(f) || f.startsWith('src/')),
        p,
      ).toEqual([]);
      expect(
        files.some((f) => f.startsWith('dist/index.')),
        p,
      ).toBe(true);
    }
  });

  it('exports types first, then import, then require (.d.cts types) for every library entry', () => {
    for (const p of PACKAGES.filter((x) => x !== 'apps')) {
      for (const [entry, conditions] of Object.entries(pkgJson(p).exports)) {
        const keys = Object.keys(conditions as object).filter((k) => k !== 'browser');
        expect(keys, `${p} ${entry}`).toEqual(['import', 'require']);
        for (const leaf of leaves(conditions)) {
          const where = `${p} ${entry} ${leaf.path.join('.')}`;
          expect(leaf.keys, where).toEqual(['types', 'default']);
          const cjs = leaf.path[0] === 'require';
          expect(leaf.value.types, where).toMatch(cjs ? /\.d\.cts$/ : /\.d\.ts$/);
          expect(leaf.value.default, where).toMatch(cjs ? /\.cjs$/ : /\.js$/);
          for (const f of [leaf.value.types, leaf.value.default]) {
            expect(existsSync(`${root}packages/${p}/${f}`), `${where}: ${f} (built?)`).toBe(true);
          }
        }
      }
    }
  });

  it('runs a CommonJS program that requires every library package (a push and a pull in process)', async () => {
    const proc = spawnNode(`${root}test/fixtures/commonjs-node.cjs`, {});
    expect(await exitCode(proc, 30_000), proc.stderr.join('\n')).toBe(0);
    const out = JSON.parse(proc.lines.at(-1)!) as Record<string, unknown>;
    expect(out).toEqual({
      vals: Array.from({ length: 32 }, (_, i) => 2 * i),
      dtype: 'Float32Array',
      psError: 'function',
      exports: ['function', 'function', 'function', 'function'],
    });
  });

  it('refuses require("@ps/apps") with a PsError that says to import() it', async () => {
    const script = `${root}test/fixtures/require-apps.cjs`;
    const proc = spawnNode(script, {});
    expect(await exitCode(proc, 30_000)).toBe(0);
    expect(JSON.parse(proc.lines.at(-1)!)).toEqual({
      code: 'PS_ERR_CONFIG',
      message: expect.stringContaining("@ps/apps is ESM-only: load it with `await import('@ps/apps')`"),
    });
  });
});
