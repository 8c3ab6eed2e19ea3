import { PsError, PsErrorCode, seededRandom } from '@ps/core';

/** The Mersenne prime 2^31 − 1: the field of the hash family `((a·x + b) mod p) mod w`. */
const P = 2147483647;

/**
 * `v mod P` for `0 ≤ v < 2^52`, with `2^31 ≡ 1 (mod P)`: the high part folded onto the low one
 * (exact in doubles, and without the slow floating-point `%`). The result is in `[0, P)` when
 * `v < 2^48` (the fold is then below 2P).
 */
function fold(v: number): number {
  const hi = Math.floor(v / 2147483648);
  const r = v - hi * 2147483648 + hi;
  return r >= P ? r - P : r;
}

/** Options of {@link CountMinSketch}. */
export interface CountMinSketchOptions {
  /** Additive error as a share of the stream's total count N, in (0, 1). Width w = ⌈e/ε⌉. */
  epsilon: number;
  /** Probability the bound fails for one query, in (0, 1). Depth d = ⌈ln(1/δ)⌉. */
  delta: number;
  /** Seed of the hash functions (a uint32). Default 1. */
  seed?: number;
}

/**
 * The shape of a count-min sketch (Cormode & Muthukrishnan, "An improved data stream summary:
 * the count-min sketch and its applications", J. Algorithms 55, 2005): `depth` rows of `width`
 * counters, row r hashing an item with its own pairwise-independent hash
 * `h_r(x) = ((a_r·x + b_r) mod p) mod w` (p = 2^31 − 1; `a_r`, `b_r` drawn from a seeded PRNG).
 * Inserting x with count c adds c to counter `h_r(x)` of every row; the estimate of x is the
 * minimum of its d counters. With w = ⌈e/ε⌉ and d = ⌈ln(1/δ)⌉, for a stream of total count N
 * (non-negative counts): `true(x) ≤ estimate(x)` always, and `estimate(x) ≤ true(x) + εN` with
 * probability at least 1 − δ.
 *
 * This class holds the hashes and the key layout only; the counters live where the caller puts
 * them (on the parameter servers: {@link pushSketchCounts}, {@link querySketch}; or in a local
 * `Float64Array` of {@link size} counters with {@link addTo} and {@link estimateFrom}). Items are
 * uint32 ids (`itemId` maps a string to one).
 *
 * Counter (r, c) has index `r·w + c` and parameter-server key `index · stride` (`stride` =
 * ⌊2^64 / size⌋): keys keep the order of indexes, each row is one contiguous key range, and the
 * rows spread over the whole key space, so the ring's ranges split them over every server.
 */
export class CountMinSketch {
  /** Counters per row: ⌈e/ε⌉. */
  readonly width: number;
  /** Rows (hash functions): ⌈ln(1/δ)⌉. */
  readonly depth: number;
  /** `width · depth` counters in all. */
  readonly size: number;
  readonly epsilon: number;
  readonly delta: number;
  /** The distance between the keys of consecutive counters. */
  readonly stride: bigint;
  /** The rows' multipliers `a_r`, split in 16-bit halves so every product stays below 2^48. */
  private readonly aHi: Float64Array;
  private readonly aLo: Float64Array;
  private readonly b: Float64Array;

  /** @throws PsError `PS_ERR_CONFIG` when ε or δ is not in (0, 1), or the sketch would exceed 2^31 counters. */
  constructor(opts: CountMinSketchOptions) {
    const { epsilon, delta } = opts;
    for (const [name, v] of [
      ['epsilon', epsilon],
      ['delta', delta],
    ] as const) {
      if (!(v > 0 && v < 1))
        throw new PsError(
          PsErrorCode.CONFIG,
          `${name} must be in (0, 1), got ${v}: give e.g. --${name} 0.01`,
        );
    }
    this.epsilon = epsilon;
    this.delta = delta;
    this.width = Math.ceil(Math.E / epsilon);
    this.depth = Math.ceil(Math.log(1 / delta));
    this.size = this.width * this.depth;
    if (this.size >= 2 ** 31)
      throw new PsError(
        PsErrorCode.CONFIG,
        `a sketch of ${this.size} counters is too large: give a larger epsilon`,
      );
    this.stride = (1n << 64n) / BigInt(this.size);
    const rand = seededRandom(opts.seed ?? 1);
    this.aHi = new Float64Array(this.depth);
    this.aLo = new Float64Array(this.depth);
    this.b = new Float64Array(this.depth);
    for (let r = 0; r < this.depth; r++) {
      const a = 1 + Math.floor(rand() * (P - 1)); // a ≠ 0
      this.aHi[r] = Math.floor(a / 65536);
      this.aLo[r] = a % 65536;
      this.b[r] = Math.floor(rand() * P);
    }
  }

  /** The counter index (`r·w + c`) of `item` (a uint32) in row `row`. */
  index(item: number, row: number): number {
    const x = fold(item >>> 0);
    // (a·x + b) mod P = ((aHi·x mod P)·2^16 + aLo·x + b) mod P, every term below 2^48.
    const h = fold(fold(this.aHi[row]! * x) * 65536 + this.aLo[row]! * x + this.b[row]!);
    return row * this.width + (h % this.width);
  }

  /** The parameter-server key of counter `index`. */
  key(index: number): bigint {
    return BigInt(index) * this.stride;
  }

  /** Adds `count` to `item`'s d counters in a local array of {@link size} counters. */
  addTo(counters: Float64Array | Float32Array, item: number, count = 1): void {
    for (let r = 0; r < this.depth; r++) counters[this.index(item, r)]! += count;
  }

  /** The estimate of `item` from a local array of {@link size} counters: the minimum of its d counters. */
  estimateFrom(counters: ArrayLike<number>, item: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (let r = 0; r < this.depth; r++) min = Math.min(min, counters[this.index(item, r)]!);
    return min;
  }
}
