import { PsError, PsErrorCode } from '../errors.js';
import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';

/** What one answer of a range pull may carry by default, in bytes (64 MiB), below any frame limit. */
export const DEFAULT_RANGE_BYTES = 64 * 1024 * 1024;

/** Bounds of a range pull's answers (see `KVWorker.pullRange`). */
export interface RangeLimits {
  /**
   * Keys per page at most (a positive integer). With it (or `maxBytes`) the answer is a page:
   * `next` says where the range goes on. Default: every stored key of the range, in one answer.
   */
  limit?: number;
  /**
   * Bytes each server's answer may carry at most (8 per key, 4 per length, 4 or 8 per value; a
   * positive integer). With it the answer is a page, as with `limit`. Default 64 MiB
   * ({@link DEFAULT_RANGE_BYTES}); without `limit` and `maxBytes`, a range whose answer would
   * pass it fails with `PS_ERR_RANGE_TOO_LARGE`.
   */
  maxBytes?: number;
}

/** A range pull request as a server reads it from `meta.range`. */
export interface RangeRequest {
  /** Sorted, disjoint, non-empty ranges of this server. */
  ranges: KeyRange[];
  /** Keys at most (`Infinity` without a limit). */
  limit: number;
  maxBytes: number;
  /** The worker pages (gave `limit` or `maxBytes`): a full budget ends the answer with `next`. */
  paged: boolean;
}

/** Wire form of a range request: bounds as decimal strings (msgpack has no 2^64). */
interface RangeRequestWire {
  r: [string, string][];
  limit?: number;
  bytes?: number;
}

/**
 * Checks a range pull's bounds and limits.
 * @throws PsError `PS_ERR_RANGE_INVALID` when a bound is not a bigint in `[0, 2^64]`, `end < begin`,
 *   or `limit` or `maxBytes` is not a positive integer.
 */
export function checkRangePull(range: KeyRange, limits: RangeLimits): void {
  const { begin, end } = (range ?? {}) as Partial<KeyRange>;
  if (typeof begin !== 'bigint' || typeof end !== 'bigint') {
    throw new PsError(
      PsErrorCode.RANGE_INVALID,
      'pullRange takes { begin, end } as bigints (end exclusive, up to 2n ** 64n)',
    );
  }
  if (begin < 0n || end > KEY_SPACE_END || end < begin) {
    throw new PsError(
      PsErrorCode.RANGE_INVALID,
      `pullRange range [${begin}, ${end}) is not a range of the key space: give 0 <= begin <= end <= 2^64`,
    );
  }
  for (const name of ['limit', 'maxBytes'] as const) {
    const v = limits[name];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
      throw new PsError(PsErrorCode.RANGE_INVALID, `pullRange ${name} must be a positive integer, got ${v}`);
    }
  }
}

/** The `meta.range` of a range pull request to one server. */
export function rangeRequestToWire(ranges: readonly KeyRange[], limits: RangeLimits): RangeRequestWire {
  const w: RangeRequestWire = { r: ranges.map((r) => [r.begin.toString(), r.end.toString()]) };
  if (limits.limit !== undefined) w.limit = limits.limit;
  if (limits.maxBytes !== undefined) w.bytes = limits.maxBytes;
  return w;
}

/**
 * Reads `meta.range` of a range pull request.
 * @throws PsError `PS_ERR_RANGE_INVALID` when it is malformed.
 */
export function rangeRequestFromWire(raw: unknown): RangeRequest {
  const bad = (what: string) => new PsError(PsErrorCode.RANGE_INVALID, `range pull request: ${what}`);
  const w = raw as Partial<RangeRequestWire> | undefined;
  if (!w || typeof w !== 'object' || !Array.isArray(w.r) || w.r.length > 1 << 16) {
    throw bad('meta.range must hold a list of [begin, end] ranges');
  }
  const ranges: KeyRange[] = [];
  let prev = 0n;
  for (const pair of w.r) {
    const [b, e] = Array.isArray(pair) ? pair : [];
    if (typeof b !== 'string' || typeof e !== 'string' || !/^\d{1,20}$/.test(b) || !/^\d{1,20}$/.test(e)) {
      throw bad('each range is a pair of decimal strings');
    }
    const begin = BigInt(b);
    const end = BigInt(e);
    if (begin < prev || end <= begin || end > KEY_SPACE_END) {
      throw bad(`ranges must be non-empty, sorted and disjoint in [0, 2^64); got [${b}, ${e})`);
    }
    ranges.push({ begin, end });
    prev = end;
  }
  for (const v of [w.limit, w.bytes]) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0))
      throw bad('limit and bytes are positive integers');
  }
  return {
    ranges,
    limit: w.limit ?? Number.POSITIVE_INFINITY,
    maxBytes: Math.min(w.bytes ?? DEFAULT_RANGE_BYTES, DEFAULT_RANGE_BYTES * 8),
    paged: w.limit !== undefined || w.bytes !== undefined,
  };
}
