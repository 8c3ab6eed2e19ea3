import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';
import murmurhash from 'murmurhash';
import type { SparseDataset } from './dataset.js';

/** Options of {@link parseLibsvm} and {@link loadLibsvm}. */
export interface LibsvmOptions {
  /**
   * Number of feature buckets (the dimension). Feature id `i` (1-based) goes to bucket `i - 1` when
   * `i <= features`, otherwise to bucket `murmurhash3_32(decimal string of i) mod features`; entries that
   * land in the same bucket are summed. Default: the largest feature id in the text (so no hashing).
   */
  features?: number;
  /** Scale every row to unit L2 norm (after bucketing); default false. */
  normalize?: boolean;
  /** Name of the resulting data set; default `'libsvm'` (`loadLibsvm`: the file's base name). */
  name?: string;
}

const WS = /[ \t]+/;

const bad = (what: string): never => {
  throw new PsError(PsErrorCode.DATASET, what);
};

function parseLabel(tok: string, at: string): number {
  const v = Number(tok);
  if (v === 1) return 1;
  if (v === -1 || v === 0) return 0;
  return bad(`${at}: label '${tok}' is not one of +1, 1, 0, -1`);
}

/**
 * Parses LIBSVM / SVMlight text into a {@link SparseDataset}.
 *
 * Each non-empty line is `label idx:val idx:val ...`, separated by spaces or tabs, where `label` is
 * `+1`/`1` (label 1) or `-1`/`0` (label 0), `idx` a 1-based integer feature id (unique within the line)
 * and `val` a finite decimal number (stored as float32). `#` starts a comment to the end of the line;
 * blank and comment-only lines are skipped. See {@link LibsvmOptions} for how ids become bucket indices.
 * Each output row is sorted by bucket index.
 *
 * @throws PsError `PS_ERR_DATASET` naming the data set and the 1-based line number of a malformed
 *   line (bad label, pair, id or value, repeated id), or when the text holds no example at all.
 */
export function parseLibsvm(text: string, opts: LibsvmOptions = {}): SparseDataset {
  const lines = text.split(/\r?\n/);
  const labels: number[] = [];
  const rowIds: Float64Array[] = [];
  const rowVals: Float64Array[] = [];
  let maxId = 0;
  const name = opts.name ?? 'libsvm';
  for (let ln = 0; ln < lines.length; ln++) {
    const at = `${name} line ${ln + 1}`;
    let line = lines[ln]!;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === '') continue;
    const toks = line.split(WS);
    labels.push(parseLabel(toks[0]!, at));
    const m = toks.length - 1;
    const ids = new Float64Array(m);
    const vals = new Float64Array(m);
    const seen = new Set<number>();
    for (let k = 0; k < m; k++) {
      const tok = toks[k + 1]!;
      const colon = tok.indexOf(':');
      if (colon <= 0 || colon === tok.length - 1) {
        bad(`${at}: '${tok}' is not idx:val`);
      }
      const idTok = tok.slice(0, colon);
      const id = Number(idTok);
      if (!/^\d+$/.test(idTok) || !Number.isSafeInteger(id) || id < 1) {
        bad(`${at}: feature id '${idTok}' is not an integer >= 1`);
      }
      if (seen.has(id)) bad(`${at}: feature id ${id} repeated`);
      seen.add(id);
      const val = Number(tok.slice(colon + 1));
      if (!Number.isFinite(val)) {
        bad(`${at}: value '${tok.slice(colon + 1)}' is not a finite number`);
      }
      ids[k] = id;
      vals[k] = val;
      if (id > maxId) maxId = id;
    }
    rowIds.push(ids);
    rowVals.push(vals);
  }

  if (labels.length === 0)
    bad(`${name}: no examples (the LIBSVM text is empty, or holds only comments and blank lines)`);
  const features = opts.features ?? maxId;
  if (!Number.isSafeInteger(features) || features < 1 || features > 2 ** 32) {
    throw new RangeError(`features must be an integer in [1, 2^32], got ${features}`);
  }
  const rows = labels.length;
  const indptr = new Int32Array(rows + 1);
  let total = 0;
  for (const ids of rowIds) total += ids.length;
  const indices = new Uint32Array(total);
  const values = new Float32Array(total);
  const encoder = new TextEncoder();
  let nnz = 0;
  for (let r = 0; r < rows; r++) {
    const ids = rowIds[r]!;
    const vals = rowVals[r]!;
    const m = ids.length;
    const bucket = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const id = ids[k]!;
      bucket[k] = id <= features ? id - 1 : murmurhash.v3(encoder.encode(String(id))) % features;
    }
    const order = Array.from({ length: m }, (_, k) => k).sort((a, b) => bucket[a]! - bucket[b]!);
    const begin = nnz;
    for (const k of order) {
      const b = bucket[k]!;
      const v = vals[k]!;
      if (nnz > begin && indices[nnz - 1] === b) {
        values[nnz - 1] = values[nnz - 1]! + v;
      } else {
        indices[nnz] = b;
        values[nnz] = v;
        nnz++;
      }
    }
    if (opts.normalize) {
      let sumSq = 0;
      for (let k = begin; k < nnz; k++) sumSq += values[k]! * values[k]!;
      if (sumSq > 0) {
        const s = 1 / Math.sqrt(sumSq);
        for (let k = begin; k < nnz; k++) values[k] = values[k]! * s;
      }
    }
    indptr[r + 1] = nnz;
  }
  return {
    name,
    rows,
    indptr,
    indices: nnz === total ? indices : indices.slice(0, nnz),
    values: nnz === total ? values : values.slice(0, nnz),
    labels: Uint8Array.from(labels),
    features,
  };
}

/**
 * Reads a LIBSVM file (UTF-8) from `path` and parses it with {@link parseLibsvm}; the data set is named
 * after the file's base name unless `opts.name` is given. Node.js only.
 *
 * @throws PsError `PS_ERR_DATASET` when the file cannot be read (the message names the path and
 *   the system's reason), or from `parseLibsvm` with the offending line number.
 */
export async function loadLibsvm(path: string, opts: LibsvmOptions = {}): Promise<SparseDataset> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) =>
    bad(`cannot read the LIBSVM file ${path}: ${err.code ?? err.message}`),
  );
  return parseLibsvm(text, { ...opts, name: opts.name ?? basename(path) });
}
