import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SparseDataset } from '../data/dataset.js';
import { DatasetCache } from '../data/dataset-cache.js';
import { shard } from '../data/split.js';
import { resolveSlrConfig } from '../slr/slr-config.js';
import { cacheSlrData, openSlrData } from './open-slr-data.js';
import { loadSlrData } from './run-role.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ps-open-slr-data-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `a` and `b` hold the same rows (byte for byte) under the same name and dimension. */
function expectSame(a: SparseDataset, b: SparseDataset): void {
  const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  expect({ name: a.name, rows: a.rows, features: a.features }).toEqual({
    name: b.name,
    rows: b.rows,
    features: b.features,
  });
  for (const f of ['indptr', 'indices', 'values', 'labels'] as const)
    expect(bytes(a[f]).equals(bytes(b[f])), f).toBe(true);
}

/** A LIBSVM text of `rows` rows with ids up to `maxId`, labels alternating. */
function libsvm(rows: number, maxId: number, offset: number): string {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const a = 1 + ((r * 7 + offset) % (maxId - 1));
    lines.push(`${r % 2 ? '+1' : '-1'} ${a}:0.5 ${a + 1}:${(r % 5) + 1}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('openSlrData', () => {
  it('gives each worker the shard and test rows loadSlrData gives (spam), then reads them from the cache', async () => {
    const cfg = resolveSlrConfig({ dataset: 'spam' });
    const whole = await loadSlrData(cfg);
    const cache = new DatasetCache(join(dir, 'spam'));
    const data = await openSlrData(cfg, cache);
    expect(data.trainRows).toBe(whole.train.rows);
    expect(data.testRows).toBe(whole.test.rows);
    expect(data.features).toBe(2 ** 20);
    for (const r of [0, 1, 2]) expectSame(await data.shard(r, 3), shard(whole.train, r, 3));
    expectSame(await data.test(), whole.test);
    // 3 shards, the test rows and the sizes.
    expect((await readdir(join(dir, 'spam'))).length).toBe(5);
    const again = await openSlrData(cfg, cache);
    expectSame(await again.shard(1, 3), shard(whole.train, 1, 3));
    expectSame(await again.test(), whole.test);
  });

  it('parses only a shard of a LIBSVM file with a test file, with both files dimension', async () => {
    const train = join(dir, 'a.svm');
    const test = join(dir, 'b.svm');
    await writeFile(train, libsvm(101, 30, 0));
    await writeFile(test, libsvm(17, 40, 3));
    const cfg = resolveSlrConfig({ dataset: train, testDataset: test });
    const whole = await loadSlrData(cfg);
    const data = await openSlrData(cfg, new DatasetCache('off'));
    expect(data.features).toBe(40);
    expect(whole.train.features).toBe(40);
    expect(data.trainRows).toBe(101);
    for (const r of [0, 1]) expectSame(await data.shard(r, 2), shard(whole.train, r, 2));
    expectSame(await data.test(), whole.test);
  });

  it('cacheSlrData writes what the workers then read, once', async () => {
    const path = join(dir, 'c.svm');
    await writeFile(path, libsvm(60, 20, 1));
    const cfg = resolveSlrConfig({ dataset: path });
    const cache = new DatasetCache(join(dir, 'c'));
    const whole = await loadSlrData(cfg);
    expect(await cacheSlrData(cfg, 2, () => loadSlrData(cfg), cache)).toBe(true);
    expect(await cacheSlrData(cfg, 2, () => loadSlrData(cfg), cache)).toBe(false);
    // The file is gone: what the workers read can only come from the cache.
    await rm(path);
    await writeFile(path, libsvm(60, 20, 1));
    const data = await openSlrData(cfg, cache);
    expect(data.trainRows).toBe(whole.train.rows);
    expectSame(await data.shard(1, 2), shard(whole.train, 1, 2));
    expectSame(await data.test(), whole.test);
  });
});

describe('DatasetCache', () => {
  it('reads back what it stored, and takes a damaged file for a miss', async () => {
    const cache = new DatasetCache(join(dir, 'dc'));
    const ds = {
      name: 'tiny/π',
      rows: 2,
      indptr: Int32Array.of(0, 1, 3),
      indices: Uint32Array.of(4, 1, 7),
      values: Float32Array.of(0.5, -1, 2),
      labels: Uint8Array.of(1, 0),
      features: 8,
    };
    expect(await cache.get(['k'])).toBeUndefined();
    await cache.put(['k'], ds);
    expect(await cache.get(['k'])).toEqual(ds);
    await writeFile(cache.fileOf(['k']), 'not a data set');
    expect(await cache.get(['k'])).toBeUndefined();
    // Kept under maxBytes (each file here is 77 bytes): the least recently used goes first.
    const small = new DatasetCache(join(dir, 'dc-small'), 200);
    await small.put(['a'], ds);
    await small.put(['b'], ds);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    await utimes(small.fileOf(['a']), hoursAgo(2), hoursAgo(2));
    await utimes(small.fileOf(['b']), hoursAgo(1), hoursAgo(1));
    expect(await small.get(['a'])).toEqual(ds);
    await small.put(['c'], ds);
    expect(await small.get(['b'])).toBeUndefined();
    expect(await small.get(['a'])).toEqual(ds);
    expect(await small.get(['c'])).toEqual(ds);
    const off = new DatasetCache('off');
    await off.put(['k'], ds);
    expect(await off.get(['k'])).toBeUndefined();
  });
});
