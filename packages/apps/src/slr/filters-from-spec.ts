import type { Filter } from '@ps/core';
import { keyCaching, lz4, quantize, significantUpdate } from '@ps/filters';
import { parseFilterSpec } from './filter-spec.js';

export { FILTER_SPECS } from './filter-spec.js';

/**
 * Makes a fresh node filter chain from a comma-separated spec (`quantize:8,lz4`), in order; `kkt`
 * is accepted and left to the worker loop (see `kktFilter`). Every node
 * gets its own instances (filters keep per-peer state and their own byte counts).
 * @throws PsError `PS_ERR_CONFIG` for an unknown or malformed filter, naming the ones available.
 */
export function filtersFromSpec(spec: string): Filter[] {
  const out: Filter[] = [];
  for (const f of parseFilterSpec(spec)) {
    // The KKT filter is the application's (it needs the pulled weights): the worker loop runs it.
    if (f.name === 'key-caching') out.push(keyCaching());
    else if (f.name === 'significant') out.push(significantUpdate({ threshold: f.threshold }));
    else if (f.name === 'quantize')
      out.push(f.mode === 'bf16' ? quantize({ bits: 16, mode: 'bf16' }) : quantize({ bits: f.bits }));
    else if (f.name === 'lz4') out.push(f.minBytes === undefined ? lz4() : lz4({ minBytes: f.minBytes }));
  }
  return out;
}
