// `bench --scaling`: S server and W worker processes over TCP on 127.0.0.1, keys/s summed over
// the workers. Asserts what the run did (counts, keys moved, CPU charged), never how fast.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, spawnNode } from './helpers/processes.js';

const bench = fileURLToPath(new URL('../packages/apps/dist/bench.js', import.meta.url));
afterEach(killAll);

/** The output lines once `want` is among them ('exit' may come before the last lines are read). */
async function linesWith(lines: string[], want: string): Promise<string> {
  for (let i = 0; i < 250 && !lines.join('\n').includes(want); i++)
    await new Promise((r) => setTimeout(r, 20));
  return lines.join('\n');
}

describe('bench --scaling', () => {
  it('runs 2 servers and 2 workers as processes and reports their summed throughput', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-scaling-'));
    try {
      const json = path.join(dir, 'rows.json');
      const p = spawnNode(bench, {}, [
        '--scaling',
        '--quick',
        '--servers',
        '2',
        '--workers',
        '1,2',
        '--json',
        json,
      ]);
      expect(await p.exit).toBe(0);
      const rows = JSON.parse(readFileSync(json, 'utf8')) as Record<string, number>[];
      expect(rows.map((r) => [r.servers, r.workers])).toEqual([
        [2, 1],
        [2, 2],
      ]);
      for (const r of rows) {
        expect(r.keys_per_request).toBe(100_000);
        expect(r.keys_per_s).toBeGreaterThan(0);
        expect(r.min).toBeLessThanOrEqual(r.max);
        expect(r.worker_cpu_ns_per_key).toBeGreaterThan(0);
        expect(r.server_cpu_ns_per_key).toBeGreaterThan(0);
      }
      expect(await linesWith(p.lines, '| 2 | 2 |')).toContain('| 2 | 2 |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a count that is not a whole number from 1 to 64 with PS_ERR_CONFIG', async () => {
    const p = spawnNode(bench, {}, ['--scaling', '--servers', '0,2']);
    expect(await p.exit).toBe(2);
    const want = 'PS_ERR_CONFIG: --servers takes a comma-separated list';
    expect(await linesWith(p.stderr, want)).toContain(want);
  });
});
