import { PsError, PsErrorCode } from '../errors.js';
import { type KeyRange, lowerBound } from '../wire/key-range.js';
import { dtypeOf, type KVPairs, keyWords, type ValArray, validateKVPairs } from '../wire/kv-pairs.js';
import type { RangeAnswer } from './range-answer.js';

/**
 * What a range pull resolves to: the stored keys of the range in ascending order with their values
 * (`lens` when keys hold different numbers of values, else `vals.length / keys.length` each), and
 * `next`, the first stored key the page left out, when it is a page that did not reach the end.
 */
export interface RangePage<V extends ValArray = ValArray> extends KVPairs<V> {
  next?: bigint;
}

/** The answer of one server to its part of a range pull: its ranges and what it sent. */
export interface RangePart {
  ranges: readonly KeyRange[];
  answer: RangeAnswer;
}

/** Wire form of the answer's meta: the next key as a decimal string. */
export interface RangeAnswerWire {
  next?: string;
}

/** The `meta.range` of a server's answer. */
export function rangeAnswerMeta(next: bigint | undefined): RangeAnswerWire {
  return next === undefined ? {} : { next: next.toString() };
}

/**
 * Reads a server's answer to a range pull: segments `[vals, lens, keys]` and `meta.range`.
 * @throws PsError `PS_ERR_MESSAGE_INVALID` when it has another shape, or keys that are not
 *   strictly increasing.
 */
export function rangeAnswerFromWire(data: readonly unknown[], raw: unknown, sender: string): RangeAnswer {
  const [vals, lens, keys] = data;
  const bad = (what: string) =>
    new PsError(PsErrorCode.MESSAGE_INVALID, `server ${sender} answered a range pull with ${what}`);
  if (
    !(vals instanceof Float32Array || vals instanceof Float64Array) ||
    !(lens instanceof Int32Array) ||
    !(keys instanceof BigUint64Array) ||
    data.length !== 3
  ) {
    throw bad('segments other than [vals, lens, keys]');
  }
  try {
    validateKVPairs({ keys, vals, lens });
  } catch (err) {
    throw bad(`keys, lens and values that do not fit (${(err as Error).message})`);
  }
  const w = raw as RangeAnswerWire | undefined;
  const n = w?.next;
  if (n !== undefined && (typeof n !== 'string' || !/^\d{1,20}$/.test(n))) throw bad('a malformed next key');
  return { keys, vals, lens, next: n === undefined ? undefined : BigInt(n) };
}

/**
 * Joins the servers' answers into one page in key order, at most `limit` keys. A server that
 * stopped early (its `next`) cuts the page there, since the keys after it are unknown; the
 * page's `next` is the first key it leaves out, or `undefined` when it holds the whole range.
 * @throws PsError `PS_ERR_DTYPE` when servers answered with different value dtypes.
 */
export function assemblePage(parts: readonly RangePart[], limit: number): RangePage {
  let cut: bigint | undefined;
  for (const p of parts)
    if (p.answer.next !== undefined && (cut === undefined || p.answer.next < cut)) cut = p.answer.next;
  // Every part's ranges with the stretch of its answer's keys inside each, in key order.
  const pieces: { begin: bigint; part: RangeAnswer; from: number; to: number; offs: Int32Array }[] = [];
  for (const p of parts) {
    const a = p.answer;
    const w = keyWords(a.keys);
    const offs = offsetsOf(a.lens);
    let from = 0;
    for (const r of p.ranges) {
      const to = lowerBound(a.keys, r.end, w);
      if (to > from) pieces.push({ begin: r.begin, part: a, from, to, offs });
      from = to;
    }
  }
  pieces.sort((x, y) => (x.begin < y.begin ? -1 : x.begin > y.begin ? 1 : 0));
  const dtype = parts.length > 0 ? dtypeOf(parts[0]!.answer.vals) : 'float32';
  // How many keys (and values) of each piece the page takes.
  let count = 0;
  let total = 0;
  let next = cut;
  const takes: number[] = [];
  for (const piece of pieces) {
    if (dtypeOf(piece.part.vals) !== dtype) {
      throw new PsError(
        PsErrorCode.DTYPE,
        'servers answered one range pull with different value dtypes; give every server the same handler',
      );
    }
    let to = cut === undefined ? piece.to : Math.min(piece.to, lowerBound(piece.part.keys, cut));
    if (to < piece.from) to = piece.from;
    const room = limit - count;
    if (to - piece.from > room) {
      next = piece.part.keys[piece.from + room]!;
      to = piece.from + room;
    }
    takes.push(to);
    count += to - piece.from;
    total += piece.offs[to]! - piece.offs[piece.from]!;
    if (count >= limit && next !== cut) break;
  }
  const keys = new BigUint64Array(count);
  const lens = new Int32Array(count);
  const vals: ValArray = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
  let k = 0;
  let o = 0;
  for (let i = 0; i < takes.length; i++) {
    const { part, from, offs } = pieces[i]!;
    const to = takes[i]!;
    keys.set(part.keys.subarray(from, to), k);
    lens.set(part.lens.subarray(from, to), k);
    vals.set(part.vals.subarray(offs[from]!, offs[to]!), o);
    k += to - from;
    o += offs[to]! - offs[from]!;
  }
  const page: RangePage = { keys, vals };
  if (!uniform(lens)) page.lens = lens;
  if (next !== undefined) page.next = next;
  return page;
}

/** Where each key's values start, and the total at the end. */
function offsetsOf(lens: Int32Array): Int32Array {
  const offs = new Int32Array(lens.length + 1);
  for (let i = 0; i < lens.length; i++) offs[i + 1] = offs[i]! + lens[i]!;
  return offs;
}

function uniform(lens: Int32Array): boolean {
  for (let i = 1; i < lens.length; i++) if (lens[i] !== lens[0]) return false;
  return true;
}
