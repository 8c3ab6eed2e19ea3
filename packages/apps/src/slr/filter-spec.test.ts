import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { parseFilterSpec } from './filter-spec.js';
import { filtersFromSpec } from './filters-from-spec.js';

describe('parseFilterSpec', () => {
  it('reads every filter the job knows, in order, and makes no filter', () => {
    expect(
      parseFilterSpec('key-caching, significant:0.01,quantize:8,quantize:bf16,lz4:512,kkt,none,'),
    ).toEqual([
      { name: 'key-caching' },
      { name: 'significant', threshold: 0.01 },
      { name: 'quantize', bits: 8 },
      { name: 'quantize', bits: 16, mode: 'bf16' },
      { name: 'lz4', minBytes: 512 },
      { name: 'kkt' },
    ]);
    expect(parseFilterSpec('')).toEqual([]);
  });

  it('refuses an unknown or malformed item with PS_ERR_CONFIG naming it', () => {
    for (const bad of [
      'gzip',
      'quantize:4',
      'significant',
      'significant:-1',
      'lz4:x',
      'kkt:1',
      'key-caching:2',
    ]) {
      let err: unknown;
      try {
        parseFilterSpec(bad);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
      expect((err as Error).message).toContain(`'${bad}' is not a filter this version has`);
    }
  });

  it('gives filtersFromSpec its chain: kkt is left to the worker loop', () => {
    expect(filtersFromSpec('key-caching,quantize:16,kkt,lz4').map((f) => f.signature)).toEqual([
      'key-caching',
      'quantize:16',
      'lz4',
    ]);
  });
});
