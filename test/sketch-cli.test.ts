// `pskv sketch` as a user runs it: the built CLI spawned as a process on SpamAssassin's word
// bigrams, its nodes talking over TCP on 127.0.0.1; its JSON summary checked against the
// count-min guarantee, which the process computes from the exact counts (an estimate is never
// below the truth, and within εN for at least 1 − δ of the queried bigrams).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

afterEach(killAll);

describe('pskv sketch', () => {
  it('counts the bigrams of --dataset spam within the bound (ε 0.001, δ 0.01) and finds 95 of the top 100', async () => {
    const p = spawnNode(cli, {}, [
      'sketch',
      '--dataset',
      'spam',
      '--epsilon',
      '0.001',
      '--delta',
      '0.01',
      '--servers',
      '3',
      '--workers',
      '2',
      '--transport',
      'tcp',
      '--json',
    ]);
    expect(await exitCode(p, 120_000), p.stderr.join('\n')).toBe(0);
    const s = JSON.parse(p.lines.at(-1)!) as Record<string, unknown>;
    expect(s).toMatchObject({
      dataset: 'spam',
      epsilon: 0.001,
      delta: 0.01,
      width: 2719,
      depth: 5,
      servers: 3,
      workers: 2,
      transport: 'tcp',
    });
    // The corpus as the loader and tokenizer give it: a fixed count of bigram occurrences.
    expect(s.N).toBe(2_087_188);
    expect(s.queried).toBe(10_100);
    expect(s.underestimates).toBe(0);
    expect(s.fraction_within_bound as number).toBeGreaterThanOrEqual(0.99);
    expect(s.heavy_hitters_recall as number).toBeGreaterThanOrEqual(0.95);
    expect(s.inserts_per_s as number).toBeGreaterThan(0);
    const perServer = s.counters_per_server as number[];
    expect(perServer).toHaveLength(3);
    expect(perServer.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2719 * 5);
    expect(p.stderr.join('\n')).toMatch(/heavy hitters recall/);
  });

  it('refuses an epsilon outside (0, 1) with exit 2 and a message naming the option', async () => {
    const p = spawnNode(cli, {}, ['sketch', '--dataset', 'spam', '--epsilon', '1.5']);
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/epsilon must be in \(0, 1\), got 1\.5/);
    expect(p.stderr.join('\n')).toMatch(/pskv sketch --help/);
  });
});
