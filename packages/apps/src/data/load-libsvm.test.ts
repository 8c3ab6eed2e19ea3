import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import murmurhash from 'murmurhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SparseDataset, validateDataset } from './dataset.js';
import { indexLibsvm, loadLibsvm, maxLibsvmId, parseLibsvm } from './load-libsvm.js';

function row(ds: SparseDataset, r: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = ds.indptr[r]!; k < ds.indptr[r + 1]!; k++) out.push([ds.indices[k]!, ds.values[k]!]);
  return out;
}

// The first three lines of LIBSVM's heart_scale (line 2 shortened, ids of line 3 reordered on purpose).
const SAMPLE = [
  '+1 1:0.708333 2:1 3:1 4:-0.320755 5:-0.105023 6:-1 7:1 8:-0.419847 9:-1 10:-0.225806 12:1 13:-1 ',
  '-1 1:0.583333 2:-1 13:1',
  '# a comment line',
  '',
  '0 13:1 2:0.5\t1:-0.25   # trailing comment',
  '1',
].join('\n');

describe('parseLibsvm', () => {
  it('parses labels, 1-based ids, values, comments and blank lines; rows sorted by index', () => {
    const ds = validateDataset(parseLibsvm(SAMPLE));
    expect(ds.name).toBe('libsvm');
    expect(ds.rows).toBe(4);
    expect(ds.features).toBe(13);
    expect(Array.from(ds.labels)).toEqual([1, 0, 0, 1]);
    expect(row(ds, 0).map(([j]) => j)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
    expect(row(ds, 0)[0]![1]).toBeCloseTo(0.708333, 6);
    expect(row(ds, 1)).toEqual([
      [0, Math.fround(0.583333)],
      [1, -1],
      [12, 1],
    ]);
    expect(row(ds, 2)).toEqual([
      [0, -0.25],
      [1, 0.5],
      [12, 1],
    ]);
    expect(row(ds, 3)).toEqual([]);
  });

  it('maps 0/1 labels and accepts CRLF line ends', () => {
    const ds = parseLibsvm('1 1:1\r\n0 2:1\r\n', { name: 'crlf' });
    expect(Array.from(ds.labels)).toEqual([1, 0]);
    expect(ds.name).toBe('crlf');
    expect(ds.features).toBe(2);
  });

  it('hashes ids beyond `features` and sums entries that share a bucket', () => {
    const features = 4;
    const big = 1000;
    const b = murmurhash.v3(new TextEncoder().encode(String(big))) % features;
    const ds = validateDataset(parseLibsvm(`1 1:2 ${big}:3 4:5`, { features }));
    expect(ds.features).toBe(4);
    const expected = new Map<number, number>([
      [0, 2],
      [3, 5],
    ]);
    expected.set(b, (expected.get(b) ?? 0) + 3);
    expect(row(ds, 0)).toEqual([...expected.entries()].sort((x, y) => x[0] - y[0]));
  });

  it('normalises rows to unit L2 norm when asked', () => {
    const ds = parseLibsvm('1 1:3 2:4\n0 3:0', { normalize: true });
    expect(row(ds, 0)).toEqual([
      [0, Math.fround(0.6)],
      [1, Math.fround(0.8)],
    ]);
    expect(row(ds, 1)).toEqual([[2, 0]]);
  });

  it('raises PS_ERR_DATASET for text without an example', () => {
    expect(() => parseLibsvm('')).toThrow(/PS_ERR_DATASET: libsvm: no examples/);
    expect(() => parseLibsvm('# c\n\n', { name: 'x.svm' })).toThrow(/x.svm: no examples/);
  });

  it('raises an Error naming the line of a malformed entry', () => {
    expect(() => parseLibsvm('1 1:1\n\n2 1:1')).toThrow(/line 3: label '2'/);
    expect(() => parseLibsvm('1 1:1\nyes 1:1')).toThrow(/line 2: label/);
    expect(() => parseLibsvm('1 1:1\n-1 1-1')).toThrow(/line 2: '1-1' is not idx:val/);
    expect(() => parseLibsvm('1 0:1')).toThrow(/line 1: feature id '0'/);
    expect(() => parseLibsvm('1 1.5:1')).toThrow(/line 1: feature id '1.5'/);
    expect(() => parseLibsvm('1 2:x')).toThrow(/line 1: value 'x'/);
    expect(() => parseLibsvm('1 2:')).toThrow(/line 1: '2:' is not idx:val/);
    expect(() => parseLibsvm('# c\n1 2:1 2:3')).toThrow(/line 2: feature id 2 repeated/);
  });
});

describe('parseLibsvm on bytes and row subsets', () => {
  it('parses UTF-8 bytes as it parses the same text', () => {
    const a = parseLibsvm(SAMPLE);
    const b = parseLibsvm(Buffer.from(SAMPLE));
    expect(b).toEqual(a);
  });

  it('parses only the rows asked for, in that order, with the whole text as dimension', () => {
    const index = indexLibsvm(Buffer.from(SAMPLE));
    expect(index.rows).toBe(4);
    expect(Array.from(index.lines)).toEqual([1, 2, 5, 6]);
    const all = parseLibsvm(SAMPLE);
    const some = parseLibsvm(SAMPLE, { rows: [2, 0] });
    expect(some.rows).toBe(2);
    expect(some.features).toBe(13);
    expect(Array.from(some.labels)).toEqual([all.labels[2], all.labels[0]]);
    expect(row(some, 0)).toEqual(row(all, 2));
    expect(row(some, 1)).toEqual(row(all, 0));
    // Row 1 alone has ids up to 13, row 3 none: the dimension is still the text's.
    expect(parseLibsvm(SAMPLE, { rows: [3] }).features).toBe(13);
    expect(maxLibsvmId(Buffer.from(SAMPLE), index)).toBe(13);
    expect(() => parseLibsvm(SAMPLE, { rows: [4] })).toThrow(RangeError);
  });

  it('reads decimals, exponents and comments glued to tokens as Number does', () => {
    const ds = parseLibsvm('1 1:0.059868433 2:-2.5e-3 3:+4 4:.5 5:1234567890123456789#x\n-1 1:7#9:9');
    expect(row(ds, 0).map(([, v]) => v)).toEqual(
      [0.059868433, -2.5e-3, 4, 0.5, Number('1234567890123456789')].map((v) => Math.fround(v)),
    );
    expect(row(ds, 1)).toEqual([[0, 7]]);
    expect(() => parseLibsvm('1 :5')).toThrow(/line 1: ':5' is not idx:val/);
    expect(() => parseLibsvm('1 1:1.2.3')).toThrow(/line 1: value '1.2.3'/);
  });
});

describe('loadLibsvm', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ps-libsvm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and names the data set after it', async () => {
    const path = join(dir, 'sample.txt');
    await writeFile(path, SAMPLE);
    const ds = await loadLibsvm(path);
    expect(ds.name).toBe('sample.txt');
    expect(ds.rows).toBe(4);
    expect(Array.from(ds.indices)).toEqual(Array.from(parseLibsvm(SAMPLE).indices));
  });

  // Debian's liblinear-tools ships LIBSVM's heart_scale (270 rows, 13 features, 120 labelled +1).
  const heartScale = '/usr/share/doc/liblinear-tools/examples/heart_scale';
  // Not skipped when missing: install it (`apt-get install liblinear-tools`; .ci/run does).
  it('reads heart_scale from liblinear-tools', async () => {
    expect(existsSync(heartScale), `${heartScale} is missing: apt-get install liblinear-tools`).toBe(true);
    const ds = validateDataset(await loadLibsvm(heartScale));
    expect(ds.name).toBe('heart_scale');
    expect(ds.rows).toBe(270);
    expect(ds.features).toBe(13);
    expect(ds.indices.length).toBe(3378);
    expect(ds.labels.reduce((a, y) => a + y, 0)).toBe(120);
    expect(row(ds, 0)[0]![1]).toBeCloseTo(0.708333, 6);
  });
});
