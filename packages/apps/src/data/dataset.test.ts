import { describe, expect, it } from 'vitest';
import { type SparseDataset, validateDataset } from './dataset.js';

function tiny(): SparseDataset {
  return {
    name: 'tiny',
    rows: 2,
    indptr: Int32Array.of(0, 2, 3),
    indices: Uint32Array.of(0, 3, 1),
    values: Float32Array.of(0.5, 0.5, 1),
    labels: Uint8Array.of(1, 0),
    features: 4,
  };
}

describe('validateDataset', () => {
  it('accepts a well-formed data set and returns it', () => {
    const ds = tiny();
    expect(validateDataset(ds)).toBe(ds);
  });

  it('rejects unsorted or repeated indices within a row', () => {
    expect(() => validateDataset({ ...tiny(), indices: Uint32Array.of(3, 0, 1) })).toThrow(
      /strictly increasing/,
    );
    expect(() => validateDataset({ ...tiny(), indices: Uint32Array.of(3, 3, 1) })).toThrow(
      /strictly increasing/,
    );
  });

  it('accepts a decrease across a row boundary', () => {
    expect(() => validateDataset({ ...tiny(), indices: Uint32Array.of(2, 3, 0) })).not.toThrow();
  });

  it('rejects an index >= features, a label not 0/1 and mismatched lengths', () => {
    expect(() => validateDataset({ ...tiny(), features: 3 })).toThrow(/>= features/);
    expect(() => validateDataset({ ...tiny(), labels: Uint8Array.of(1, 2) })).toThrow(/not 0 or 1/);
    expect(() => validateDataset({ ...tiny(), values: Float32Array.of(1, 1) })).toThrow(/values.length/);
    expect(() => validateDataset({ ...tiny(), indptr: Int32Array.of(0, 2, 2) })).toThrow(/nnz/);
    expect(() => validateDataset({ ...tiny(), rows: 3 })).toThrow(/indptr.length/);
  });
});
