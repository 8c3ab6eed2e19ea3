// Every JavaScript/TypeScript block of the docs is a file of examples/, included verbatim, and
// each runs: spawned as its own process against the built packages, with a time bound, its
// output asserted. Edit a block into something that does not run, or out of step with its file,
// and this fails.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selfSignedCertificate } from '@ps/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, markdownDocs } from './helpers/markdown-docs.js';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = join(root, 'examples');
const MARKER = /^<!-- example: examples\/([\w.-]+\.mjs) \(run by test\/docs-examples\.test\.ts\) -->$/;
const JS = new Set(['js', 'ts', 'javascript', 'typescript', 'mjs', 'cjs', 'jsx', 'tsx']);

/** What each example prints on stdout, line by line (sorted where threads race). */
const EXPECTED: Record<string, string[]> = {
  'quick-start.mjs': ['Float32Array(3) [ 2, 4, 6 ]'],
  'consistency-models.mjs': ['[ 0.5, -1 ]'],
  'sync-mode.mjs': ['[ [ -1.5, -0.5 ], [ -1.5, -0.5 ] ]'],
  'join-and-leave.mjs': ['true'],
  'filter-chain.mjs': ['true'],
  'secret-cluster.mjs': ['[ 1, 2 ]', 'true'],
  'role-secrets.mjs': ['[ 1, 2 ]', 'true'],
  'tls-cluster.mjs': ['[ 3 ]'],
  'apps-local-cluster.mjs': ['true'],
  'core-tour.mjs': [
    'pull [ 1, 2, 3, 4, 5, 6 ]',
    'pushPull [ 1.5, 3, 4.5, 6, 7.5, 9 ]',
    'pull$ [ 4.5, 6, 0, 0 ]',
  ],
  'bounded-delay-deps.mjs': ['[ 1, 2 ]'],
  'range-pull.mjs': [
    '[ 20, 30, 40, 50, 60 ] undefined',
    '[ 2n, 3n ] [ 20, 30 ]',
    '[ 4n, 5n ] [ 40, 50 ]',
    '[ 6n ] [ 60 ]',
  ],
  'progress-clock.mjs': ['[ 3, 3 ]'],
  'max-handler.mjs': ['[ 5, 4 ]'],
  'serving-updates.mjs': ['[ [ 1n, 1 ], [ 2n, 6 ], [ 3n, 5 ] ]'],
  'snapshot.mjs': [
    '[ -0.10000000149011612, 0.10000000149011612 ] [ -0.10000000149011612, 0.10000000149011612 ]',
  ],
  'filters-quantize-lz4.mjs': ['true'],
  'filters-by-hand.mjs': ['1000', "[ [ 'quantize:8', true ], [ 'lz4', true ] ]"],
  'inproc-cluster.mjs': ['[ 1, 2 ]'],
  'threads-main.mjs': ['worker 0: [ 2, 4 ]', 'worker 1: [ 2, 4 ]'],
  'tcp-cluster.mjs': ['[ 1, 2 ]'],
  'tcp-tls-transport.mjs': ['server-0'],
  'ws-transport.mjs': ['server-0'],
  'ws-tls.mjs': ['server-0'],
  'ws-browser.mjs': ['[ 2.5 ]'],
  'tasks-algorithm1.mjs': ['[ 100, 101 ]', '10', '12 true'],
  'nn-own-model.mjs': ['true true'],
};
/** Examples run another way (below), or by another example. */
const RUN_ELSEWHERE = [
  'from-env.mjs',
  'transport-conformance.test.mjs',
  'tcp-reconnect.mjs',
  'threads-node.mjs',
];
const SORTED = new Set(['threads-main.mjs']);

const exampleFiles = readdirSync(examples).filter((f) => f.endsWith('.mjs'));
const docBlocks = markdownDocs(root).flatMap((doc) =>
  codeBlocks(readFileSync(join(root, doc), 'utf8')).map((b) => ({ doc, ...b })),
);

/** A folder with what the examples read: `secret`, `cert.pem`, `key.pem` (examples run in it). */
let cwd = '';
beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'ps-examples-'));
  const { cert, key } = await selfSignedCertificate();
  writeFileSync(join(cwd, 'secret'), 'an example secret of thirty-two bytes\n', { mode: 0o600 });
  writeFileSync(join(cwd, 'cert.pem'), cert);
  writeFileSync(join(cwd, 'key.pem'), key, { mode: 0o600 });
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
afterEach(killAll);

const quietEnv = { PS_LOG_LEVEL: 'error' };

function run(file: string, env: Record<string, string> = {}, args: string[] = []): Proc {
  return spawnNode(join(examples, file), { ...quietEnv, ...env }, args, { cwd });
}

describe('the docs code blocks', () => {
  it('are each a file of examples/, verbatim, marked on the line before', () => {
    const js = docBlocks.filter((b) => JS.has(b.lang));
    expect(js.length).toBeGreaterThanOrEqual(exampleFiles.length - 1);
    for (const b of js) {
      const where = `${b.doc}:${b.line}`;
      const m = MARKER.exec(b.before);
      expect(
        m,
        `${where}: a js block needs the line <!-- example: examples/NAME.mjs (run by ...) --> before it`,
      ).not.toBeNull();
      expect(b.lang, where).toBe('js');
      expect(`${b.body}\n`, `${where} differs from examples/${m![1]}`).toBe(
        readFileSync(join(examples, m![1]!), 'utf8'),
      );
    }
  });

  it('leave no example unused, and every one is run here', () => {
    const used = new Set(docBlocks.map((b) => MARKER.exec(b.before)?.[1]).filter((x) => x !== undefined));
    expect(exampleFiles.filter((f) => !used.has(f))).toEqual([]);
    expect([...exampleFiles].sort()).toEqual([...Object.keys(EXPECTED), ...RUN_ELSEWHERE].sort());
  });
});

describe('the examples run', () => {
  for (const [file, want] of Object.entries(EXPECTED)) {
    it(`${file} prints what its comments say`, async () => {
      const proc = run(file);
      expect(await exitCode(proc, 90_000), proc.stderr.join('\n')).toBe(0);
      expect(SORTED.has(file) ? [...proc.lines].sort() : proc.lines).toEqual(want);
    });
  }

  it('tcp-reconnect.mjs: a send waits for the reconnect, then fails once the window has passed', async () => {
    const proc = run('tcp-reconnect.mjs');
    expect(await exitCode(proc, 60_000), proc.stderr.join('\n')).toBe(0);
    expect(proc.lines).toContain('send resolved after the reconnect');
    expect(proc.lines).toContain('the new server got a frame from cli');
    expect(proc.lines).toContain('client event: error srv PS_ERR_PEER_UNREACHABLE');
    expect(proc.lines.at(-1)).toBe('PS_ERR_PEER_UNREACHABLE');
  });

  it('from-env.mjs: a scheduler, a server and two workers as processes, each role from the environment', async () => {
    const port = await freePort();
    const env = { PS_SCHEDULER: `127.0.0.1:${port}`, PS_NUM_SERVERS: '1', PS_NUM_WORKERS: '2' };
    const scheduler = run('from-env.mjs', { ...env, PS_ROLE: 'scheduler' });
    await listening(port, scheduler);
    const roles = ['server', 'worker', 'worker'].map((role) =>
      run('from-env.mjs', { ...env, PS_ROLE: role }),
    );
    for (const p of [...roles, scheduler]) expect(await exitCode(p, 60_000), p.stderr.join('\n')).toBe(0);
    expect(roles.flatMap((p) => p.lines).sort()).toEqual([
      'worker rank 0: [ 2, 4, 6 ]',
      'worker rank 1: [ 2, 4, 6 ]',
    ]);
  });

  it('transport-conformance.test.mjs: the conformance suite passes under vitest', async () => {
    const config = join(cwd, 'vitest.config.mjs');
    writeFileSync(config, "export default { test: { include: ['transport-conformance.test.mjs'] } };\n");
    const vitest = join(root, 'node_modules/vitest/vitest.mjs');
    const proc = spawnNode(
      vitest,
      { ...quietEnv, NO_COLOR: '1' },
      ['run', '--root', examples, '--config', config],
      {
        cwd: root,
      },
    );
    expect(await exitCode(proc, 90_000), proc.lines.join('\n')).toBe(0);
    expect(proc.lines.join('\n')).toMatch(/Tests\s+\d+ passed/);
  });
});

/** A port free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port` (at most 200 tries, 50 ms apart). */
async function listening(port: number, proc: Proc): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await Promise.race([new Promise((r) => setTimeout(r, 50)), proc.exit]);
  }
  throw new Error(`nothing listens on ${port}; scheduler stderr: ${proc.stderr.join('\n')}`);
}
