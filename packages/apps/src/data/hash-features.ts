// Hashing library: `murmurhash` (npm, MurmurHash3 x86_32 by Gary Court, kept by Derek Perez; ~5M weekly
// downloads, MIT, no dependencies, ships its own .d.ts). Picked because MurmurHash3_32 is the function the
// standard hashing-trick implementations use (Vowpal Wabbit, scikit-learn's HashingVectorizer), it is pure
// synchronous JavaScript (so `hashText` needs no async WASM set-up and runs unchanged in a browser worker),
// and it hashes a `Uint8Array` directly: we hand it UTF-8 bytes written into a reusable scratch buffer, so
// no string or byte array is allocated per token (its string path allocates a TextEncoder per call).
import murmurhash from 'murmurhash';
import type { SparseDataset } from './dataset.js';

/** Options of {@link hashText}. */
export interface HashTextOptions {
  /** log2 of the number of feature buckets, an integer in [1, 32]; default 20 (1,048,576 buckets). */
  bits?: number;
  /** Also hash bigrams of consecutive tokens (`'not good'`); default true. */
  bigrams?: boolean;
  /** MurmurHash3 seed (uint32); default 0. */
  seed?: number;
  /** Name of the resulting data set; default `'hashed'`. */
  name?: string;
}

// ---- growable typed buffers, reused across calls (hashText is synchronous, so this is safe) ----

let docBytes: Uint8Array = new Uint8Array(1 << 16); // UTF-8 bytes of the current document's tokens, back to back
let tokEnds: Int32Array = new Int32Array(1 << 12); // token t occupies docBytes[t === 0 ? 0 : tokEnds[t - 1], tokEnds[t])
let scratch: Uint8Array = new Uint8Array(256); // the key being hashed, always at offset 0
let views: Uint8Array[] = []; // views[len] = scratch.subarray(0, len), made once per length
let rowBuf: Uint32Array = new Uint32Array(1 << 12); // bucket ids of the current row before sort/dedup

function growBytes(buf: Uint8Array, need: number): Uint8Array {
  if (need <= buf.length) return buf;
  const next = new Uint8Array(Math.max(need, buf.length * 2));
  next.set(buf);
  return next;
}

function growInt32(buf: Int32Array, need: number): Int32Array {
  if (need <= buf.length) return buf;
  const next = new Int32Array(Math.max(need, buf.length * 2));
  next.set(buf);
  return next;
}

function growUint32(buf: Uint32Array, need: number): Uint32Array {
  if (need <= buf.length) return buf;
  const next = new Uint32Array(Math.max(need, buf.length * 2));
  next.set(buf);
  return next;
}

/** The first `len` bytes of `scratch` as a cached view (no allocation after the first use of a length). */
function keyView(len: number): Uint8Array {
  let v = views[len];
  if (v === undefined) {
    v = scratch.subarray(0, len);
    views[len] = v;
  }
  return v;
}

function ensureScratch(len: number): void {
  if (len > scratch.length) {
    scratch = new Uint8Array(Math.max(len, scratch.length * 2));
    views = [];
  }
}

// ---- tokenizer ----

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
// Non-ASCII BMP code units classified lazily: 0 = not yet, 1 = word character, 2 = separator.
const bmpClass = new Uint8Array(65536);

function isWordCodePoint(cp: number): boolean {
  if (cp < 0x10000) {
    let c = bmpClass[cp]!;
    if (c === 0) {
      c = WORD_CHAR.test(String.fromCharCode(cp)) ? 1 : 2;
      bmpClass[cp] = c;
    }
    return c === 1;
  }
  return WORD_CHAR.test(String.fromCodePoint(cp));
}

/**
 * Tokenizes one document into the module buffers and returns the token count.
 *
 * Lower-cases; drops HTML/XML tags (`<br />`, `</p>`, `<!-- x -->` when it holds no `<` or `>`); a token
 * is a maximal run of Unicode letters, digits, combining marks and apostrophes (`'` or `’`, both stored as
 * `'`), with leading and trailing apostrophes removed. Tokens are stored as UTF-8.
 */
function scanDocument(text: string): number {
  const s = text.toLowerCase();
  const n = s.length;
  let nBytes = 0;
  let nTok = 0;
  let tokStart = 0; // byte offset where the current token began
  let inTok = false;
  // worst case 3 UTF-8 bytes per UTF-16 code unit
  docBytes = growBytes(docBytes, 3 * n + 4);
  const endToken = (): void => {
    let end = nBytes;
    while (end > tokStart && docBytes[end - 1] === 0x27) end--;
    if (end > tokStart) {
      tokEnds = growInt32(tokEnds, nTok + 1);
      tokEnds[nTok++] = end;
      nBytes = end;
    } else {
      nBytes = tokStart;
    }
    inTok = false;
  };
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) {
        if (!inTok) {
          inTok = true;
          tokStart = nBytes;
        }
        docBytes[nBytes++] = c;
        continue;
      }
      if (c === 0x27) {
        if (inTok) docBytes[nBytes++] = 0x27;
        continue;
      }
      if (inTok) endToken();
      if (c === 0x3c) {
        // '<': skip a tag, i.e. '<' then '/', '!' or a letter, up to the next '>' with no '<' before it
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d === 0x2f || d === 0x21 || (d >= 0x61 && d <= 0x7a)) {
          let j = i + 1;
          while (j < n) {
            const e = s.charCodeAt(j);
            if (e === 0x3e || e === 0x3c) break;
            j++;
          }
          if (j < n && s.charCodeAt(j) === 0x3e) i = j;
        }
      }
      continue;
    }
    if (c === 0x2019) {
      if (inTok) docBytes[nBytes++] = 0x27;
      continue;
    }
    // non-ASCII: decode a surrogate pair if there is one
    let units = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        units = 2;
      }
    }
    if (!isWordCodePoint(c)) {
      if (inTok) endToken();
      i += units - 1;
      continue;
    }
    if (!inTok) {
      inTok = true;
      tokStart = nBytes;
    }
    if (c < 0x800) {
      docBytes[nBytes++] = 0xc0 | (c >> 6);
      docBytes[nBytes++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      docBytes[nBytes++] = 0xe0 | (c >> 12);
      docBytes[nBytes++] = 0x80 | ((c >> 6) & 0x3f);
      docBytes[nBytes++] = 0x80 | (c & 0x3f);
    } else {
      docBytes[nBytes++] = 0xf0 | (c >> 18);
      docBytes[nBytes++] = 0x80 | ((c >> 12) & 0x3f);
      docBytes[nBytes++] = 0x80 | ((c >> 6) & 0x3f);
      docBytes[nBytes++] = 0x80 | (c & 0x3f);
    }
    i += units - 1;
  }
  if (inTok) endToken();
  return nTok;
}

/**
 * Splits `text` into the tokens {@link hashText} hashes (see there for the rules), as strings.
 *
 * Meant for inspection and tests; `hashText` itself never materialises token strings.
 */
export function tokenize(text: string): string[] {
  const count = scanDocument(text);
  const decoder = new TextDecoder();
  const out = new Array<string>(count);
  let start = 0;
  for (let t = 0; t < count; t++) {
    const end = tokEnds[t]!;
    out[t] = decoder.decode(docBytes.subarray(start, end));
    start = end;
  }
  return out;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new RangeError(`bits must be an integer in [1, 32], got ${bits}`);
  }
}

/**
 * The bucket (uint32 in `[0, 2^bits)`) that {@link hashText} assigns to one feature string: MurmurHash3
 * x86_32 of its UTF-8 bytes with `seed`, keeping the low `bits` bits. A bigram's feature string is the
 * two tokens joined by one space (`'not good'`); tokens never contain spaces, so they never collide as
 * strings with bigrams.
 */
export function featureBucket(feature: string, bits = 20, seed = 0): number {
  checkBits(bits);
  const mask = 2 ** bits - 1;
  return (murmurhash.v3(new TextEncoder().encode(feature), seed) & mask) >>> 0;
}

/**
 * Turns texts into a hashed bag-of-words {@link SparseDataset} (the "hashing trick").
 *
 * Per document: tokenize (lower-case, strip HTML tags, tokens = runs of letters/digits/apostrophes; see
 * {@link tokenize}); take every token and, if `bigrams`, every pair of consecutive tokens; map each to a
 * bucket with {@link featureBucket}; give each distinct bucket the value 1 (repeats and hash collisions
 * collapse), then scale the row to unit L2 norm, i.e. value = 1 / sqrt(number of distinct buckets).
 * An empty document gives an empty row.
 *
 * @param texts documents, length `rows`.
 * @param labels uint8 labels, 0 or 1, length `rows` (copied).
 * @returns a data set with `features = 2^bits`, indices sorted and unique per row, float32 values.
 * @throws RangeError on a bad `bits`, on `labels.length !== texts.length`, or on a label not 0/1.
 */
export function hashText(
  texts: readonly string[],
  labels: Uint8Array,
  opts: HashTextOptions = {},
): SparseDataset {
  const bits = opts.bits ?? 20;
  const bigrams = opts.bigrams ?? true;
  const seed = opts.seed ?? 0;
  checkBits(bits);
  if (labels.length !== texts.length) {
    throw new RangeError(`labels.length ${labels.length} !== texts.length ${texts.length}`);
  }
  const mask = 2 ** bits - 1;
  const rows = texts.length;
  const indptr = new Int32Array(rows + 1);
  let indices: Uint32Array = new Uint32Array(1 << 16);
  let nnz = 0;
  const v3 = murmurhash.v3;

  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    if (label !== 0 && label !== 1) throw new RangeError(`label of row ${r} is ${label}, not 0 or 1`);
    const nTok = scanDocument(texts[r]!);
    const maxFeatures = bigrams ? 2 * nTok : nTok;
    rowBuf = growUint32(rowBuf, maxFeatures);
    let n = 0;
    let prevStart = 0;
    let start = 0;
    for (let t = 0; t < nTok; t++) {
      const end = tokEnds[t]!;
      const len = end - start;
      ensureScratch(len);
      for (let k = 0; k < len; k++) scratch[k] = docBytes[start + k]!;
      rowBuf[n++] = (v3(keyView(len), seed) & mask) >>> 0;
      if (bigrams && t > 0) {
        // key = previous token, one space, this token (tokens sit back to back in docBytes)
        const prevLen = start - prevStart;
        const blen = prevLen + 1 + len;
        ensureScratch(blen);
        for (let k = 0; k < prevLen; k++) scratch[k] = docBytes[prevStart + k]!;
        scratch[prevLen] = 0x20;
        for (let k = 0; k < len; k++) scratch[prevLen + 1 + k] = docBytes[start + k]!;
        rowBuf[n++] = (v3(keyView(blen), seed) & mask) >>> 0;
      }
      prevStart = start;
      start = end;
    }
    const row = rowBuf.subarray(0, n).sort();
    indices = growUint32(indices, nnz + n);
    let last = -1;
    for (let k = 0; k < n; k++) {
      const j = row[k]!;
      if (j !== last) {
        indices[nnz++] = j;
        last = j;
      }
    }
    indptr[r + 1] = nnz;
  }

  const values = new Float32Array(nnz);
  for (let r = 0; r < rows; r++) {
    const begin = indptr[r]!;
    const end = indptr[r + 1]!;
    if (end > begin) values.fill(1 / Math.sqrt(end - begin), begin, end);
  }
  return {
    name: opts.name ?? 'hashed',
    rows,
    indptr,
    indices: indices.slice(0, nnz),
    values,
    labels: Uint8Array.from(labels),
    features: 2 ** bits,
  };
}
