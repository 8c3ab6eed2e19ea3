import type { SparseDataset } from './dataset.js';

const MAGIC = 0x53445350; // 'PSDS', little-endian
const VERSION = 1;
/** Bytes of the header before the arrays. */
export const SPARSE_DATASET_HEADER_BYTES = 32;

const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * A {@link SparseDataset} in its binary form, as parts to write or send one after the other
 * (no array is copied): a 32-byte little-endian header (`'PSDS'`, version 1, rows u32, nnz u32,
 * features f64, name bytes u32, 4 bytes of zeros), then the CSR arrays as they are in memory,
 * `indptr` (Int32, rows + 1), `indices` (Uint32, nnz), `values` (Float32, nnz), `labels` (Uint8,
 * rows), then the name in UTF-8. Every array starts on a 4-byte boundary. The data set cache's
 * files and the shards `pskv serve` sends to browser workers have this form.
 *
 * Runs in Node and in browsers (no `Buffer`).
 */
export function encodeSparseDataset(ds: SparseDataset): Uint8Array[] {
  const name = new TextEncoder().encode(ds.name);
  const head = new Uint8Array(SPARSE_DATASET_HEADER_BYTES);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, ds.rows, true);
  dv.setUint32(12, ds.indices.length, true);
  dv.setFloat64(16, ds.features, true);
  dv.setUint32(24, name.length, true);
  return [head, view(ds.indptr), view(ds.indices), view(ds.values), view(ds.labels), name];
}

/** {@link encodeSparseDataset}'s parts as one byte array. */
export function encodeSparseDatasetBytes(ds: SparseDataset): Uint8Array {
  const parts = encodeSparseDataset(ds);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads the form {@link encodeSparseDataset} writes, into fresh (aligned) arrays. Returns
 * undefined for anything else: a short or long body, a foreign magic or version, or row pointers
 * that do not end at nnz. It does not check the rows themselves (see `validateDataset`).
 */
export function decodeSparseDataset(bytes: Uint8Array): SparseDataset | undefined {
  if (bytes.length < SPARSE_DATASET_HEADER_BYTES) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return undefined;
  const rows = dv.getUint32(8, true);
  const nnz = dv.getUint32(12, true);
  const features = dv.getFloat64(16, true);
  const nameBytes = dv.getUint32(24, true);
  const size = SPARSE_DATASET_HEADER_BYTES + 4 * (rows + 1) + 8 * nnz + rows + nameBytes;
  if (bytes.length !== size) return undefined;
  let at = bytes.byteOffset + SPARSE_DATASET_HEADER_BYTES;
  const take = (n: number): ArrayBuffer => {
    const b = bytes.buffer.slice(at, at + n) as ArrayBuffer;
    at += n;
    return b;
  };
  const indptr = new Int32Array(take(4 * (rows + 1)));
  const indices = new Uint32Array(take(4 * nnz));
  const values = new Float32Array(take(4 * nnz));
  const labels = new Uint8Array(take(rows));
  const name = new TextDecoder().decode(new Uint8Array(take(nameBytes)));
  if (indptr[rows] !== nnz) return undefined;
  return { name, rows, indptr, indices, values, labels, features };
}
