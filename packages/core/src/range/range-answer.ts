import { PsError, PsErrorCode } from '../errors.js';
import type { TableHandler } from '../handlers/table-handler.js';
import type { RequestHandler } from '../kv-server.js';
import type { KeyRange } from '../wire/key-range.js';
import type { ValArray } from '../wire/kv-pairs.js';
import type { RangeRequest } from './range-request.js';

/** A server's answer to a range pull: its stored keys in the request's ranges, in order. */
export interface RangeAnswer {
  keys: BigUint64Array;
  /** Each key's visible values (what a pull of it reads), concatenated in key order. */
  vals: ValArray;
  lens: Int32Array;
  /** The first stored key of the ranges left out (the budget ran out), else `undefined`. */
  next: bigint | undefined;
}

/**
 * Answers a range pull from a table-backed handler: the table's stored keys in `req.ranges`
 * (ascending, found without a pass over the table, see `KVTable.scanRange`), up to the request's
 * limits, with the values a pull of those keys would read (the rule's `read`: the weights of
 * AdaGrad or FTRL, not their state).
 * @throws PsError `PS_ERR_RANGE_UNSUPPORTED` for a handler without a table;
 *   `PS_ERR_RANGE_TOO_LARGE` when the answer would pass `req.maxBytes` and the request does not
 *   page, or when one key alone passes it.
 */
export function answerRange(handler: RequestHandler, req: RangeRequest): RangeAnswer {
  const { table, rule } = handler as Partial<TableHandler>;
  if (!table || !rule) {
    throw new PsError(
      PsErrorCode.RANGE_UNSUPPORTED,
      'this server runs a custom handler without a table: it cannot enumerate stored keys for a range pull; serve the app with a table-backed handler (sumHandler(), tableHandler(rule), ...) or pull named keys',
    );
  }
  const valueBytes = table.dtype === 'float64' ? 8 : 4;
  const scans = [];
  let limit = req.limit;
  let bytes = req.maxBytes;
  let next: bigint | undefined;
  let count = 0;
  let total = 0;
  for (const range of req.ranges) {
    const s = table.scanRange(range, { limit, maxBytes: bytes, keyBytes: 12, valueBytes });
    scans.push(s);
    count += s.keys.length;
    total += s.values;
    limit -= s.keys.length;
    bytes -= 12 * s.keys.length + valueBytes * s.values;
    if (s.next !== undefined) {
      next = s.next;
      break;
    }
  }
  if (next !== undefined && (count === 0 || !req.paged)) tooLarge(req.ranges, next, req);
  const keys = new BigUint64Array(count);
  const lens = new Int32Array(count);
  const vals: ValArray = table.dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
  const slabs = table.slabs;
  let k = 0;
  let o = 0;
  for (const s of scans) {
    keys.set(s.keys, k);
    for (let i = 0; i < s.entries.length; i++) {
      const e = s.entries[i]!;
      const len = table.lengthOf(e);
      rule.read(slabs, table.offsetOf(e), len, vals, o);
      lens[k++] = len;
      o += len;
    }
  }
  return { keys, vals, lens, next };
}

function tooLarge(ranges: readonly KeyRange[], next: bigint, req: RangeRequest): never {
  const first = ranges[0]!;
  const last = ranges[ranges.length - 1]!;
  throw new PsError(
    PsErrorCode.RANGE_TOO_LARGE,
    req.paged
      ? `key ${next} alone holds more values than the range pull's byte budget (${req.maxBytes} bytes); raise maxBytes`
      : `the stored keys of [${first.begin}, ${last.end}) on this server need more than ${req.maxBytes} bytes, more than one answer carries; page through the range with pullRange(range, { limit }) and continue from each page's next`,
    { maxBytes: req.maxBytes, next: next.toString() },
  );
}
