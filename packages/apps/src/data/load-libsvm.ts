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

const bad = (what: string): never => {
  throw new PsError(PsErrorCode.DATASET, what);
};

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const HASH = 0x23;
const COLON = 0x3a;
/** Bytes `[from, to)` as text, for messages and the rare token the fast paths leave. */
const latin1 = (b: Uint8Array, from: number, to: number) =>
  Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('utf8');
const isSep = (c: number) => c === SP || c === TAB || c === CR;
/** A separator or the start of a comment: where a token ends. */
const isStop = (c: number) => c === SP || c === TAB || c === CR || c === HASH;

/**
 * Where the examples of a LIBSVM text are: `starts[i]`/`ends[i]` are the byte range of the i-th
 * example line (comments cut off), `lines[i]` its 1-based line number. Blank and comment-only
 * lines are not examples.
 */
export interface LibsvmIndex {
  rows: number;
  starts: Uint32Array;
  ends: Uint32Array;
  lines: Uint32Array;
}

/**
 * Finds the example lines of LIBSVM bytes (see {@link LibsvmIndex}) without parsing them: one
 * native newline search per line. Files up to 4 GiB.
 */
export function indexLibsvm(bytes: Uint8Array): LibsvmIndex {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let cap = 1024;
  let starts = new Uint32Array(cap);
  let ends = new Uint32Array(cap);
  let lines = new Uint32Array(cap);
  let rows = 0;
  let line = 0;
  const n = buf.length;
  for (let pos = 0; pos < n; ) {
    let eol = buf.indexOf(LF, pos);
    if (eol < 0) eol = n;
    line++;
    let a = pos;
    while (a < eol && isSep(buf[a]!)) a++;
    pos = eol + 1;
    if (a === eol || buf[a] === HASH) continue;
    if (rows === cap) {
      cap *= 2;
      const grow = (old: Uint32Array) => {
        const g = new Uint32Array(cap);
        g.set(old);
        return g;
      };
      starts = grow(starts);
      ends = grow(ends);
      lines = grow(lines);
    }
    starts[rows] = a;
    ends[rows] = eol;
    lines[rows] = line;
    rows++;
  }
  return {
    rows,
    starts: starts.subarray(0, rows),
    ends: ends.subarray(0, rows),
    lines: lines.subarray(0, rows),
  };
}

/** The largest feature id of the indexed examples (0 if none); ids are not checked here. */
export function maxLibsvmId(bytes: Uint8Array, index: LibsvmIndex): number {
  let max = 0;
  for (let r = 0; r < index.rows; r++) {
    const end = index.ends[r]!;
    for (let i = index.starts[r]!; i < end; i++) {
      const c = bytes[i]!;
      if (c === HASH) break;
      if (c !== COLON) continue;
      let id = 0;
      let scale = 1;
      for (let j = i - 1; j >= 0; j--) {
        const d = bytes[j]! - 0x30;
        if (d < 0 || d > 9) break;
        id += d * scale;
        scale *= 10;
      }
      if (id > max) max = id;
    }
  }
  return max;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parses LIBSVM / SVMlight text into a {@link SparseDataset}.
 *
 * Each non-empty line is `label idx:val idx:val ...`, separated by spaces or tabs, where `label` is
 * `+1`/`1` (label 1) or `-1`/`0` (label 0), `idx` a 1-based integer feature id (unique within the line)
 * and `val` a finite decimal number (stored as float32). `#` starts a comment to the end of the line;
 * blank and comment-only lines are skipped. See {@link LibsvmOptions} for how ids become bucket indices.
 * Each output row is sorted by bucket index.
 *
 * `text` may be the file's bytes (UTF-8): they are parsed in place, a byte at a time, with no
 * string per line or token. `opts.rows` parses only those examples (0-based among the example
 * lines, in the order given), e.g. one worker's shard; the dimension is still the whole text's.
 *
 * @throws PsError `PS_ERR_DATASET` naming the data set and the 1-based line number of a malformed
 *   line (bad label, pair, id or value, repeated id), or when the text holds no example at all.
 */
export function parseLibsvm(
  text: string | Uint8Array,
  opts: LibsvmOptions & { rows?: ArrayLike<number>; index?: LibsvmIndex } = {},
): SparseDataset {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const name = opts.name ?? 'libsvm';
  const index = opts.index ?? indexLibsvm(bytes);
  if (index.rows === 0)
    bad(`${name}: no examples (the LIBSVM text is empty, or holds only comments and blank lines)`);
  const pick = opts.rows;
  // The dimension is the whole text's largest id: a pass of its own only for a subset of rows
  // (every id then maps to bucket id - 1; parsing every row finds the largest on the way).
  let maxId = opts.features === undefined && pick ? maxLibsvmId(bytes, index) : 0;
  const badFeatures = (f: number) => {
    throw new RangeError(`features must be an integer in [1, 2^32], got ${f}`);
  };
  const given = opts.features;
  if (given !== undefined && (!Number.isSafeInteger(given) || given < 1 || given > 2 ** 32))
    badFeatures(given);
  // Without ids (maxId 0) the lines are parsed first, so that a malformed one is named.
  const features = given ?? (pick ? Math.max(1, maxId) : 2 ** 32);
  const rows = pick ? pick.length : index.rows;
  const indptr = new Int32Array(rows + 1);
  const labels = new Uint8Array(rows);
  // Entries: at most one per ':' of the chosen lines; grown as needed.
  let cap = 1 << 16;
  let indices = new Uint32Array(cap);
  let values = new Float32Array(cap);
  let rowIds = new Float64Array(256);
  let rowBuckets = new Uint32Array(256);
  let rowVals = new Float64Array(256);
  let order = new Uint32Array(256);
  let nnz = 0;
  for (let r = 0; r < rows; r++) {
    const e = pick ? pick[r]! : r;
    if (!(Number.isInteger(e) && e >= 0 && e < index.rows))
      throw new RangeError(`row ${e} is out of range [0, ${index.rows})`);
    const lineNo = index.lines[e]!;
    const at = () => `${name} line ${lineNo}`;
    // A '#' ends the row wherever a token may start or end (a comment); trailing separators go.
    let end = index.ends[e]!;
    let i = index.starts[e]!;
    while (end > i && isSep(bytes[end - 1]!)) end--;
    // Label.
    let t = i;
    while (t < end && !isStop(bytes[t]!)) t++;
    const c0 = bytes[i]!;
    const len = t - i;
    let label: number;
    if (len === 1 && (c0 === 0x31 || c0 === 0x30)) label = c0 - 0x30;
    else if (len === 2 && bytes[i + 1] === 0x31 && (c0 === 0x2b || c0 === 0x2d)) label = c0 === 0x2b ? 1 : 0;
    else {
      const tok = latin1(bytes, i, t);
      const v = Number(tok);
      label =
        v === 1 ? 1 : v === -1 || v === 0 ? 0 : bad(`${at()}: label '${tok}' is not one of +1, 1, 0, -1`);
    }
    labels[r] = label;
    i = t;
    // Pairs.
    let m = 0;
    let ascending = true;
    let prevId = 0;
    for (;;) {
      while (i < end && isSep(bytes[i]!)) i++;
      if (i >= end || bytes[i] === HASH) break;
      const tokStart = i;
      let id = 0;
      let c = bytes[i]!;
      while (c >= 0x30 && c <= 0x39) {
        id = id * 10 + (c - 0x30);
        c = bytes[++i]!;
      }
      const idEnd = i;
      if (i >= end || c !== COLON) {
        // Not digits then ':': find the token's end to say what it is.
        let k = i;
        while (k < end && !isStop(bytes[k]!)) k++;
        const tok = latin1(bytes, tokStart, k);
        const colon = tok.indexOf(':');
        if (colon <= 0 || colon === tok.length - 1) bad(`${at()}: '${tok}' is not idx:val`);
        bad(`${at()}: feature id '${tok.slice(0, colon)}' is not an integer >= 1`);
      }
      if (idEnd === tokStart) {
        let k = i;
        while (k < end && !isStop(bytes[k]!)) k++;
        bad(`${at()}: '${latin1(bytes, tokStart, k)}' is not idx:val`);
      }
      if (id < 1 || !Number.isSafeInteger(id))
        bad(`${at()}: feature id '${latin1(bytes, tokStart, idEnd)}' is not an integer >= 1`);
      i++; // ':'
      const valStart = i;
      // Fast path: [+-]digits[.digits]; anything else (exponents, long mantissas) goes to Number.
      let neg = false;
      c = bytes[i]!;
      if (c === 0x2d || c === 0x2b) {
        neg = c === 0x2d;
        c = bytes[++i]!;
      }
      let mant = 0;
      let digits = 0;
      let frac = 0;
      while (c >= 0x30 && c <= 0x39) {
        mant = mant * 10 + (c - 0x30);
        digits++;
        c = bytes[++i]!;
      }
      if (c === 0x2e && i < end) {
        c = bytes[++i]!;
        while (c >= 0x30 && c <= 0x39 && i < end) {
          mant = mant * 10 + (c - 0x30);
          digits++;
          frac++;
          c = bytes[++i]!;
        }
      }
      let val: number;
      if (digits > 0 && digits <= 15 && frac < POW10.length && (i >= end || isStop(c))) {
        val = frac === 0 ? mant : mant / POW10[frac]!;
        if (neg) val = -val;
      } else {
        while (i < end && !isStop(bytes[i]!)) i++;
        if (i === valStart) bad(`${at()}: '${latin1(bytes, tokStart, i)}' is not idx:val`);
        const vtok = latin1(bytes, valStart, i);
        val = Number(vtok);
        if (!Number.isFinite(val)) bad(`${at()}: value '${vtok}' is not a finite number`);
      }
      if (m === rowIds.length) {
        const g = new Float64Array(m * 2);
        g.set(rowIds);
        rowIds = g;
        const h = new Float64Array(m * 2);
        h.set(rowVals);
        rowVals = h;
        rowBuckets = new Uint32Array(m * 2);
        order = new Uint32Array(m * 2);
      }
      if (id <= prevId) ascending = false;
      if (id > maxId) maxId = id;
      prevId = id;
      rowIds[m] = id;
      rowVals[m] = val;
      m++;
    }
    if (!ascending) {
      const seen = new Set<number>();
      for (let k = 0; k < m; k++) {
        const id = rowIds[k]!;
        if (seen.has(id)) bad(`${at()}: feature id ${id} repeated`);
        seen.add(id);
      }
    }
    // Buckets: id - 1 when it fits, else a hash of the id's decimal string.
    let inOrder = true;
    for (let k = 0; k < m; k++) {
      const id = rowIds[k]!;
      const b = id <= features ? id - 1 : murmurhash.v3(Buffer.from(String(id), 'latin1')) % features;
      rowBuckets[k] = b;
      if (k > 0 && b <= rowBuckets[k - 1]!) inOrder = false;
    }
    if (nnz + m > cap) {
      cap = Math.max(cap * 2, nnz + m);
      const gi = new Uint32Array(cap);
      gi.set(indices.subarray(0, nnz));
      indices = gi;
      const gv = new Float32Array(cap);
      gv.set(values.subarray(0, nnz));
      values = gv;
    }
    const begin = nnz;
    if (inOrder) {
      for (let k = 0; k < m; k++) {
        indices[nnz] = rowBuckets[k]!;
        values[nnz++] = rowVals[k]!;
      }
    } else {
      const ord = order.subarray(0, m);
      for (let k = 0; k < m; k++) ord[k] = k;
      ord.sort((a, b) => rowBuckets[a]! - rowBuckets[b]! || a - b);
      for (let q = 0; q < m; q++) {
        const k = ord[q]!;
        const b = rowBuckets[k]!;
        const v = rowVals[k]!;
        if (nnz > begin && indices[nnz - 1] === b) {
          values[nnz - 1] = values[nnz - 1]! + v;
        } else {
          indices[nnz] = b;
          values[nnz] = v;
          nnz++;
        }
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
  if (given === undefined && (maxId < 1 || maxId > 2 ** 32)) badFeatures(maxId);
  return {
    name,
    rows,
    indptr,
    indices: indices.slice(0, nnz),
    values: values.slice(0, nnz),
    labels,
    features: given ?? maxId,
  };
}

/**
 * Reads a LIBSVM file (UTF-8) from `path` and parses it with {@link parseLibsvm}; the data set is named
 * after the file's base name unless `opts.name` is given. Node.js only.
 *
 * @throws PsError `PS_ERR_DATASET` when the file cannot be read (the message names the path and
 *   the system's reason), or from `parseLibsvm` with the offending line number.
 */
export async function loadLibsvm(
  path: string,
  opts: LibsvmOptions & { rows?: ArrayLike<number>; index?: LibsvmIndex } = {},
): Promise<SparseDataset> {
  const text = await readFile(path).catch((err: NodeJS.ErrnoException) =>
    bad(`cannot read the LIBSVM file ${path}: ${err.code ?? err.message}`),
  );
  return parseLibsvm(text, { ...opts, name: opts.name ?? basename(path) });
}
