// `pskv lda` as a user runs it: the built CLI spawned as a process on 1,500 Reuters-21578 stories.
// With --transport tcp its 2 servers and 4 workers are each an OS process of their own (the
// launcher spawns them, the scheduler runs in it) over TCP on 127.0.0.1, under bounded delay;
// their held-out perplexity must be within 5% of one worker's under sequential consistency (all
// in one process: the plain sampler's counts, see run-lda.test.ts) after the same 20 sweeps.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

afterEach(killAll);

/** Resolves once `pred` holds, checked every 50 ms; false when `ms` passed first. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The role processes' pids, from the `processes: server 0 PID, ...` line on stderr. */
async function rolePids(p: Proc, ms = 60_000): Promise<number[]> {
  const line = () => p.stderr.find((l) => l.startsWith('processes: '));
  expect(await until(() => line() !== undefined || p.child.exitCode !== null, ms), p.stderr.join('\n')).toBe(
    true,
  );
  return [...(line() ?? '').matchAll(/ (\d+)(?=,|$)/g)].map((m) => Number(m[1]));
}

const common = ['lda', '--dataset', 'reuters', '--docs', '1500', '--topics', '20', '--sweeps', '20'];
const common2 = ['--servers', '2', '--batch-docs', '50', '--seed', '3', '--json'];

interface Summary {
  perplexity: number;
  unigram_perplexity: number;
  tokens_per_s: number;
  top_words: string[][];
  [k: string]: unknown;
}

describe('pskv lda', () => {
  it('4 workers as processes under bounded delay (τ 1) reach the held-out perplexity of 1 worker within 5%', async () => {
    const four = spawnNode(cli, {}, [
      ...common,
      '--workers',
      '4',
      '--consistency',
      'bounded',
      '--tau',
      '1',
      '--transport',
      'tcp',
      ...common2,
    ]);
    const one = spawnNode(cli, {}, [
      ...common,
      '--workers',
      '1',
      '--consistency',
      'sequential',
      '--transport',
      'inproc',
      ...common2,
    ]);
    const [c4, c1] = await Promise.all([exitCode(four, 170_000), exitCode(one, 170_000)]);
    expect(c4, four.stderr.join('\n')).toBe(0);
    expect(c1, one.stderr.join('\n')).toBe(0);
    const s4 = JSON.parse(four.lines.at(-1)!) as Summary;
    const s1 = JSON.parse(one.lines.at(-1)!) as Summary;
    // The corpus as the loader and tokenizer give it: a fixed split and vocabulary.
    for (const s of [s4, s1]) {
      expect(s).toMatchObject({
        dataset: 'reuters',
        docs_train: 1350,
        docs_held_out: 150,
        topics: 20,
        alpha: 2.5,
        beta: 0.1,
        sweeps: 20,
        servers: 2,
      });
      expect(s.top_words).toHaveLength(20);
      for (const ws of s.top_words) expect(new Set(ws).size).toBe(10);
      expect(s.tokens_per_s).toBeGreaterThan(0);
      // The topics explain the held-out halves far better than word frequencies alone.
      expect(s.perplexity).toBeLessThan(0.85 * s.unigram_perplexity);
    }
    expect(s4.tokens_train).toBe(s1.tokens_train);
    expect(s4.unigram_perplexity).toBe(s1.unigram_perplexity);
    expect(s4).toMatchObject({
      workers: 4,
      processes: true,
      transport: 'tcp',
      consistency: 'bounded',
      tau: 1,
    });
    expect(s1).toMatchObject({
      workers: 1,
      processes: false,
      transport: 'inproc',
      consistency: 'sequential',
      tau: 0,
    });
    const gap = Math.abs(s4.perplexity - s1.perplexity) / s1.perplexity;
    expect(gap, `4 workers ${s4.perplexity}, 1 worker ${s1.perplexity}`).toBeLessThan(0.05);
    // A progress line per sweep on stderr, the summary after them.
    expect(four.stderr.filter((l) => /^sweep \d+\/20: \d+ tokens/.test(l))).toHaveLength(20);
    expect(four.stderr.join('\n')).toMatch(/held-out perplexity \d+/);
  }, 180_000);

  it('exits 143 on SIGTERM with every server and worker process gone', async () => {
    const p = spawnNode(cli, {}, [
      ...common.slice(0, 5),
      '--sweeps',
      '500',
      '--workers',
      '2',
      '--servers',
      '1',
    ]);
    const pids = await rolePids(p);
    expect(pids).toHaveLength(3);
    expect(pids.every(alive)).toBe(true);
    // Once sampling runs (the workers loaded the corpus and pushed their first counts).
    expect(
      await until(() => p.stderr.some((l) => l.startsWith('sweep 1/500')), 60_000),
      p.stderr.join('\n'),
    ).toBe(true);
    process.kill(p.pid, 'SIGTERM');
    expect(await exitCode(p, 20_000)).toBe(143);
    expect(p.stderr).toContain('pskv: interrupted by SIGTERM; the cluster was torn down');
    expect(await until(() => pids.every((pid) => !alive(pid)), 10_000)).toBe(true);
  }, 90_000);

  it('refuses more workers than training documents with exit 2', async () => {
    const p = spawnNode(cli, {}, ['lda', '--docs', '30', '--workers', '40']);
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/--workers 40 is more than the 27 training documents/);
  });

  it('refuses a count of topics out of range with exit 2 and a message naming the option', async () => {
    const p = spawnNode(cli, {}, ['lda', '--topics', '1']);
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/--topics must be an integer in \[2, 1000\], got 1/);
    expect(p.stderr.join('\n')).toMatch(/pskv lda --help/);
  });

  it('refuses an unknown consistency model with exit 2', async () => {
    const p = spawnNode(cli, {}, ['lda', '--consistency', 'eventual']);
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/'eventual' is invalid/);
  });
});
