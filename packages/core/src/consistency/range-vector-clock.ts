import { KEY_SPACE_END, type KeyRange } from '../wire/key-range.js';

/** One segment of a {@link RangeVectorClock}: every key in `[begin, end)` has timestamp `time`. */
export interface ClockSegment extends KeyRange {
  readonly time: number;
}

function checkRange(range: KeyRange): void {
  const { begin, end } = range;
  if (
    typeof begin !== 'bigint' ||
    typeof end !== 'bigint' ||
    begin < 0n ||
    end > KEY_SPACE_END ||
    begin > end
  ) {
    throw new RangeError(`bad key range [${begin}, ${end}): need 0 <= begin <= end <= 2^64`);
  }
}

function checkTime(t: number): void {
  if (typeof t !== 'number' || Number.isNaN(t)) throw new RangeError(`bad timestamp ${t}`);
}

/**
 * A range vector clock (Li et al., OSDI 2014, section 4.1, Algorithm 2): a map from every key of
 * the 64-bit key space to a timestamp, stored as sorted, non-overlapping segments that cover
 * `[0, 2^64)`. Setting a range splits only the two segments at its ends (at most two new
 * boundaries) and replaces what lies inside by one segment, so memory is O(ranges set), never
 * O(keys). Adjacent segments with equal time are always merged, so the segment list is canonical:
 * two clocks that map every key to the same time have the same {@link RangeVectorClock.segments}.
 *
 * A node keeps one clock per peer (and app) to drop messages it has already applied (a message
 * for range R at time t is a duplicate when `min(R) >= t`) and to know up to which time a replica
 * holds each range.
 *
 * Costs, with `m` segments: {@link get} O(log m); {@link set} and {@link advance} O(log m + m)
 * worst case (an array splice; the paper's algorithm is O(m) as well), {@link min} and
 * {@link max} O(log m + segments overlapped). Boundaries are BigInt: they are per range, not per key.
 */
export class RangeVectorClock {
  /** Start of each segment, strictly increasing, `starts[0] = 0`; segment i ends at `starts[i + 1]` or 2^64. */
  private readonly starts: bigint[];
  /** Time of each segment; adjacent times differ. */
  private readonly times: number[];

  /** A clock that maps every key to `initial` (default 0): one segment. */
  constructor(initial = 0) {
    checkTime(initial);
    this.starts = [0n];
    this.times = [initial];
  }

  /**
   * Rebuilds a clock from a segment list as {@link RangeVectorClock.segments} returns it: non-empty segments,
   * contiguous from 0 to 2^64 (equal neighbours are merged). O(m).
   * @throws RangeError when the segments do not cover `[0, 2^64)` in order.
   */
  static fromSegments(segments: readonly ClockSegment[]): RangeVectorClock {
    const first = segments[0];
    if (first === undefined) throw new RangeError('a clock needs at least one segment');
    const clock = new RangeVectorClock(first.time);
    let at = 0n;
    for (const s of segments) {
      checkRange(s);
      if (s.begin !== at || s.begin === s.end) {
        throw new RangeError(
          `segments must be non-empty and contiguous from 0: got [${s.begin}, ${s.end}) at ${at}`,
        );
      }
      checkTime(s.time);
      if (s.begin > 0n && s.time !== clock.times[clock.times.length - 1]) {
        clock.starts.push(s.begin);
        clock.times.push(s.time);
      }
      at = s.end;
    }
    if (at !== KEY_SPACE_END) throw new RangeError(`segments end at ${at}, not at 2^64`);
    return clock;
  }

  /** Number of segments (at least 1). */
  get size(): number {
    return this.starts.length;
  }

  /** End of segment `i`. */
  private endOf(i: number): bigint {
    return this.starts[i + 1] ?? KEY_SPACE_END;
  }

  /** Index of the segment holding `key` (the last start `<= key`). O(log m). */
  private indexOf(key: bigint): number {
    let lo = 0;
    let hi = this.starts.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= key) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Replaces segments `i..j` (which overlap the non-empty `range`) by the pieces of them outside
   * `range`, plus the pieces inside whose times `inner` gives; then merges equal neighbours around.
   */
  private rewrite(
    range: KeyRange,
    inner: (startsIn: bigint[], timesIn: number[], i: number, j: number) => void,
  ): void {
    const { begin, end } = range;
    const i = this.indexOf(begin);
    const j = this.indexOf(end - 1n);
    const ns: bigint[] = [];
    const nt: number[] = [];
    if (this.starts[i]! < begin) {
      ns.push(this.starts[i]!);
      nt.push(this.times[i]!);
    }
    inner(ns, nt, i, j);
    if (end < this.endOf(j)) {
      ns.push(end);
      nt.push(this.times[j]!);
    }
    this.starts.splice(i, j - i + 1, ...ns);
    this.times.splice(i, j - i + 1, ...nt);
    // Merge equal neighbours in the rewritten window and at its two edges.
    const hiIdx = Math.min(i + ns.length, this.starts.length - 1);
    for (let k = hiIdx; k >= Math.max(i, 1); k--) {
      if (this.times[k] === this.times[k - 1]) {
        this.starts.splice(k, 1);
        this.times.splice(k, 1);
      }
    }
  }

  /**
   * Sets every key of `range` to time `t` (Algorithm 2). Adds at most two segments; an empty
   * range changes nothing.
   * @throws RangeError on a range outside `[0, 2^64)` or with `begin > end`, or a NaN time.
   */
  set(range: KeyRange, t: number): void {
    checkRange(range);
    checkTime(t);
    if (range.begin === range.end) return;
    this.rewrite(range, (ns, nt) => {
      ns.push(range.begin);
      nt.push(t);
    });
  }

  /**
   * Raises every key of `range` to at least `t` (keys already later keep their time): the
   * monotone form of {@link set} for clocks that must never go back. Adds at most two segments.
   * @throws RangeError as {@link set}.
   */
  advance(range: KeyRange, t: number): void {
    checkRange(range);
    checkTime(t);
    if (range.begin === range.end) return;
    this.rewrite(range, (ns, nt, i, j) => {
      for (let k = i; k <= j; k++) {
        const s = this.starts[k]!;
        ns.push(s < range.begin ? range.begin : s);
        nt.push(Math.max(this.times[k]!, t));
      }
    });
  }

  /**
   * Timestamp of `key`. O(log m).
   * @throws RangeError on a key outside `[0, 2^64)`.
   */
  get(key: bigint): number {
    if (key < 0n || key >= KEY_SPACE_END) throw new RangeError(`key ${key} is outside [0, 2^64)`);
    return this.times[this.indexOf(key)]!;
  }

  /** Reduces the times of the segments overlapping the non-empty `range`. */
  private fold(range: KeyRange, pick: (a: number, b: number) => number): number {
    checkRange(range);
    if (range.begin === range.end) throw new RangeError(`empty key range [${range.begin}, ${range.end})`);
    const i = this.indexOf(range.begin);
    const j = this.indexOf(range.end - 1n);
    let acc = this.times[i]!;
    for (let k = i + 1; k <= j; k++) acc = pick(acc, this.times[k]!);
    return acc;
  }

  /**
   * Smallest timestamp of a key in the non-empty `range`: everything in it is at least this recent.
   * @throws RangeError on an empty or bad range.
   */
  min(range: KeyRange): number {
    return this.fold(range, Math.min);
  }

  /**
   * Largest timestamp of a key in the non-empty `range`.
   * @throws RangeError on an empty or bad range.
   */
  max(range: KeyRange): number {
    return this.fold(range, Math.max);
  }

  /**
   * The segments overlapping the non-empty `range`, clipped to it, in key order. O(log m + k)
   * for k segments returned.
   * @throws RangeError on an empty or bad range.
   */
  overlapping(range: KeyRange): ClockSegment[] {
    checkRange(range);
    if (range.begin === range.end) throw new RangeError(`empty key range [${range.begin}, ${range.end})`);
    const i = this.indexOf(range.begin);
    const j = this.indexOf(range.end - 1n);
    const out: ClockSegment[] = [];
    for (let k = i; k <= j; k++) {
      const b = this.starts[k]!;
      const e = this.endOf(k);
      out.push({
        begin: b < range.begin ? range.begin : b,
        end: e > range.end ? range.end : e,
        time: this.times[k]!,
      });
    }
    return out;
  }

  /**
   * The segments in key order: non-empty, contiguous, covering `[0, 2^64)`, adjacent times
   * different. A fresh array (O(m)); the clock is not affected by changes to it.
   */
  segments(): ClockSegment[] {
    const out: ClockSegment[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      out.push({ begin: this.starts[i]!, end: this.endOf(i), time: this.times[i]! });
    }
    return out;
  }

  /** An independent copy. O(m). */
  clone(): RangeVectorClock {
    return RangeVectorClock.fromSegments(this.segments());
  }
}
