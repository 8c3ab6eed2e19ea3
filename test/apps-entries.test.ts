import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

// @ps/apps's entries and what they load: tfjs (about 0.3 s of CPU on import) only through
// `@ps/apps/nn`. Runs against the built dist/ (`npm test` builds first).

const root = fileURLToPath(new URL('..', import.meta.url));
// Quoted: NODE_OPTIONS splits on spaces, and a checkout's path may hold some.
const preload = `--require ${JSON.stringify(`${root}test/fixtures/tfjs-at-exit.cjs`)}`;
const { NODE_OPTIONS: given } = process.env;
const atExit = { NODE_OPTIONS: [given, preload].filter(Boolean).join(' ') };
const importEntry = (entry: string) => spawnNode(`${root}test/fixtures/import-entry.mjs`, atExit, [entry]);

/** The process's JSON lines: its entry's exports (when it printed them) and the tfjs packages it loaded. */
async function outcome(p: Proc): Promise<{ exports?: string[]; tfjs: string[] }> {
  expect(await exitCode(p, 30_000), p.stderr.join('\n')).toBe(0);
  const lines = p.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, string[]>);
  const tfjs = lines.find((l) => 'tfjs' in l)?.tfjs;
  expect(tfjs, p.lines.join('\n')).toBeDefined();
  const exports = lines.find((l) => 'exports' in l)?.exports;
  return { ...(exports ? { exports } : {}), tfjs: tfjs! };
}

afterEach(killAll);

describe('@ps/apps entries', () => {
  it('@ps/apps does not load @tensorflow/tfjs, and has none of the nn exports', async () => {
    const { exports, tfjs } = await outcome(importEntry('@ps/apps'));
    expect(tfjs).toEqual([]);
    expect(exports).toContain('runLocalCluster');
    expect(exports).toContain('trainSlrWorker');
    for (const name of ['TfjsBridge', 'useWasmBackend', 'registerWasmConvGrad', 'runNn'])
      expect(exports).not.toContain(name);
  });

  it('@ps/apps/nn loads tfjs and its wasm backend, and exports the bridge and the nn job', async () => {
    // The same check, seeing tfjs where it is loaded: the assertion above can fail.
    const { exports, tfjs } = await outcome(importEntry('@ps/apps/nn'));
    expect(tfjs).toEqual(
      expect.arrayContaining(['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-core']),
    );
    for (const name of [
      'TfjsBridge',
      'useWasmBackend',
      'registerWasmConvGrad',
      'variableKeyMap',
      'runNn',
      'resolveNnConfig',
      'mnistModel',
      'trainNnWorker',
    ])
      expect(exports).toContain(name);
  });

  it('the pskv command line loads tfjs only for `pskv nn`: not for `pskv slr --help`', async () => {
    const cli = `${root}packages/apps/dist/cli.js`;
    const { tfjs } = await outcome(spawnNode(cli, atExit, ['slr', '--help']));
    expect(tfjs).toEqual([]);
  });
});
