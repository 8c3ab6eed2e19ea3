import { describe, expect, it } from 'vitest';
import type { SparseDataset } from './dataset.js';
import {
  decodeSparseDataset,
  encodeSparseDataset,
  encodeSparseDatasetBytes,
  SPARSE_DATASET_HEADER_BYTES,
} from './sparse-dataset-codec.js';

const ds: SparseDataset = {
  name: 'tiny/train[0/2]',
  rows: 3,
  indptr: Int32Array.of(0, 2, 2, 5),
  indices: Uint32Array.of(1, 7, 0, 3, 1_000_000),
  values: Float32Array.of(0.5, -1.25, 1, 2, 3),
  labels: Uint8Array.of(1, 0, 1),
  features: 2 ** 20,
};

describe('sparse data set codec', () => {
  it('round-trips the CSR arrays, the name and the dimension, into aligned arrays', () => {
    const bytes = encodeSparseDatasetBytes(ds);
    expect(bytes.length).toBe(SPARSE_DATASET_HEADER_BYTES + 4 * 4 + 8 * 5 + 3 + 15);
    expect(encodeSparseDataset(ds).reduce((n, p) => n + p.length, 0)).toBe(bytes.length);
    // At an odd offset of a larger buffer, as a network body may be.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const back = decodeSparseDataset(shifted.subarray(3))!;
    expect(back).toEqual(ds);
    expect(back.indices.byteOffset % 4).toBe(0);
  });

  it('reads anything else as undefined', () => {
    const bytes = encodeSparseDatasetBytes(ds);
    expect(decodeSparseDataset(bytes.subarray(0, 10))).toBeUndefined();
    expect(decodeSparseDataset(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    const foreign = bytes.slice();
    foreign[0] = 0x51;
    expect(decodeSparseDataset(foreign)).toBeUndefined();
    const badEnd = bytes.slice();
    new DataView(badEnd.buffer).setInt32(SPARSE_DATASET_HEADER_BYTES + 12, 4, true); // indptr[3] = 4, not nnz
    expect(decodeSparseDataset(badEnd)).toBeUndefined();
  });
});
