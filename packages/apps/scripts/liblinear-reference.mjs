// The reference the job is compared with: Debian's liblinear (`apt-get install liblinear-tools`)
// trained on the very same hashed features and split as `ps slr`, written as LIBSVM files to a
// temporary folder (deleted afterwards). Usage: node packages/apps/scripts/liblinear-reference.mjs [imdb|spam] [C]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSlrData, resolveSlrConfig } from '@ps/apps';

const dataset = process.argv[2] ?? 'imdb';
const C = process.argv[3] ?? '1';
const { train, test } = await loadSlrData(resolveSlrConfig({ dataset }));
const toLibsvm = (ds) => {
  const lines = [];
  for (let r = 0; r < ds.rows; r++) {
    const parts = [ds.labels[r] ? '+1' : '-1'];
    for (let k = ds.indptr[r]; k < ds.indptr[r + 1]; k++) parts.push(`${ds.indices[k] + 1}:${ds.values[k]}`);
    lines.push(parts.join(' '));
  }
  return `${lines.join('\n')}\n`;
};
const dir = mkdtempSync(join(tmpdir(), 'ps-liblinear-'));
try {
  writeFileSync(join(dir, 'train.svm'), toLibsvm(train));
  writeFileSync(join(dir, 'test.svm'), toLibsvm(test));
  const t0 = performance.now();
  // -s 0: L2-regularised logistic regression (primal).
  execFileSync('liblinear-train', ['-q', '-s', '0', '-c', C, join(dir, 'train.svm'), join(dir, 'model')]);
  const out = execFileSync('liblinear-predict', [
    '-b',
    '1',
    join(dir, 'test.svm'),
    join(dir, 'model'),
    join(dir, 'pred'),
  ]);
  process.stdout.write(
    `${dataset} liblinear -s 0 -c ${C}: ${out.toString().trim()} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
