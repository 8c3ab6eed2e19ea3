import { PsError, PsErrorCode } from '@ps/core';

/** The filter names `--filters` accepts today. */
export const FILTER_SPECS =
  'key-caching, significant:<threshold>, quantize:8, quantize:16, quantize:bf16, lz4, lz4:<minBytes>, kkt';

/** One item of a `--filters` spec, checked but not yet made into a filter. */
export type FilterSpecItem =
  | { name: 'key-caching' }
  | { name: 'significant'; threshold: number }
  | { name: 'quantize'; bits: 8 | 16; mode?: 'bf16' }
  | { name: 'lz4'; minBytes?: number }
  | { name: 'kkt' };

/**
 * Parses a comma-separated filter spec (`quantize:8,lz4`) into its items, in order, without
 * making any filter: it imports nothing but `@ps/core`, so a browser bundle can check a job's
 * spec. Empty items and `none` are skipped.
 * @throws PsError `PS_ERR_CONFIG` for an unknown or malformed filter, naming the ones available.
 */
export function parseFilterSpec(spec: string): FilterSpecItem[] {
  const out: FilterSpecItem[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '' || item === 'none') continue;
    const [name, arg] = item.split(':') as [string, string | undefined];
    if ((name === 'key-caching' || name === 'kkt') && arg === undefined) out.push({ name });
    else if (
      name === 'significant' &&
      arg !== undefined &&
      Number.isFinite(Number(arg)) &&
      Number(arg) >= 0
    ) {
      out.push({ name, threshold: Number(arg) });
    } else if (name === 'quantize' && (arg === '8' || arg === '16'))
      out.push({ name, bits: Number(arg) as 8 | 16 });
    else if (name === 'quantize' && arg === 'bf16') out.push({ name, bits: 16, mode: 'bf16' });
    else if (name === 'lz4' && (arg === undefined || /^\d+$/.test(arg))) {
      out.push(arg === undefined ? { name } : { name, minBytes: Number(arg) });
    } else {
      throw new PsError(
        PsErrorCode.CONFIG,
        `--filters: '${item}' is not a filter this version has; available: ${FILTER_SPECS}`,
      );
    }
  }
  return out;
}
