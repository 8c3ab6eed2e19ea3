import { type Filter, PsError, PsErrorCode } from '@ps/core';
import { keyCaching, lz4, quantize, significantUpdate } from '@ps/filters';

/** The filter names `--filters` accepts today. */
export const FILTER_SPECS =
  'key-caching, significant:<threshold>, quantize:8, quantize:16, quantize:bf16, lz4, lz4:<minBytes>, kkt';

/**
 * Makes a fresh node filter chain from a comma-separated spec (`quantize:8,lz4`), in order; `kkt`
 * is accepted and left to the worker loop (see `kktFilter`). Every node
 * gets its own instances (filters keep per-peer state and their own byte counts).
 * @throws PsError `PS_ERR_CONFIG` for an unknown or malformed filter, naming the ones available.
 */
export function filtersFromSpec(spec: string): Filter[] {
  const out: Filter[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    // The KKT filter is the application's (it needs the pulled weights): the worker loop runs it.
    if (item === '' || item === 'none' || item === 'kkt') continue;
    const [name, arg] = item.split(':') as [string, string | undefined];
    if (name === 'key-caching' && arg === undefined) out.push(keyCaching());
    else if (
      name === 'significant' &&
      arg !== undefined &&
      Number.isFinite(Number(arg)) &&
      Number(arg) >= 0
    ) {
      out.push(significantUpdate({ threshold: Number(arg) }));
    } else if (name === 'quantize' && (arg === '8' || arg === '16'))
      out.push(quantize({ bits: Number(arg) as 8 | 16 }));
    else if (name === 'quantize' && arg === 'bf16') out.push(quantize({ bits: 16, mode: 'bf16' }));
    else if (name === 'lz4' && (arg === undefined || /^\d+$/.test(arg))) {
      out.push(arg === undefined ? lz4() : lz4({ minBytes: Number(arg) }));
    } else {
      throw new PsError(
        PsErrorCode.CONFIG,
        `--filters: '${item}' is not a filter this version has; available: ${FILTER_SPECS}`,
      );
    }
  }
  return out;
}
