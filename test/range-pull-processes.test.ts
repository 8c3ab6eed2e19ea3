// Range pulls across OS processes over TCP on 127.0.0.1: 1 scheduler, 3 servers, 1 worker. The
// worker pushes keys spread over the whole key space and pulls ranges that cross the servers'
// boundaries, whole and in pages; every key and value must come back exactly, in key order.
// Run after `npm run build` (the processes run the built packages).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/range-node.mjs', import.meta.url));

afterEach(killAll);

const N = 3000;
const END = 1n << 64n;
const step = END / BigInt(N);
const keys = Array.from({ length: N }, (_, i) => BigInt(i) * step + BigInt(i % 5));

type RangeResult = {
  event: string;
  begin: string;
  end: string;
  limit: number;
  owners: number;
  pages: number;
  keys: string[];
  vals: number[];
};

describe('range pulls across processes over TCP, 3 servers', () => {
  it('pulls every stored key of ranges across server boundaries, whole and in pages, exactly and in order', async () => {
    const pulls: [string, string, number][] = [];
    const ranges: [bigint, bigint][] = [
      [0n, END],
      [keys[100]!, keys[2900]!],
      [keys[100]! + 1n, keys[1500]! + 1n],
      [keys[2990]!, END],
    ];
    for (const [b, e] of ranges) {
      for (const limit of [0, 1, 7, 97, 1000]) {
        // One key a page only where the range is short (a round trip a page).
        if (limit !== 1 || e - b < 20n * step) pulls.push([String(b), String(e), limit]);
      }
    }
    const common = {
      PS_NUM_SERVERS: '3',
      PS_NUM_WORKERS: '1',
      RANGE_KEYS: String(N),
      RANGE_PULLS: JSON.stringify(pulls),
    };
    const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
    const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
    const env = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
    const servers = Array.from({ length: 3 }, () => spawnNode(script, { ...env, PS_ROLE: 'server' }));
    const worker = spawnNode(script, { ...env, PS_ROLE: 'worker' });
    await worker.waitFor((o: { event: string }) => o.event === 'done', 120_000);
    const results = worker.lines.map((l) => JSON.parse(l) as RangeResult).filter((o) => o.event === 'range');
    expect(results.length).toBe(pulls.length);
    for (const r of results) {
      const begin = BigInt(r.begin);
      const end = BigInt(r.end);
      const idx = keys.flatMap((k, i) => (k >= begin && k < end ? [i] : []));
      const what = `[${r.begin}, ${r.end}) limit ${r.limit}`;
      expect(r.keys, what).toEqual(idx.map((i) => String(keys[i])));
      expect(r.vals, what).toEqual(idx.flatMap((i) => [2 * i + 0.25, 2 * i + 1.25]));
      expect(r.pages, what).toBe(r.limit === 0 ? 1 : Math.max(1, Math.ceil(idx.length / r.limit)));
      if (idx.length > 100) expect(r.owners, what).toBe(3);
    }
    const codes = await Promise.all([scheduler, ...servers, worker].map((p) => exitCode(p)));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
  });
});
