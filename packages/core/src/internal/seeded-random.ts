/**
 * A small seeded PRNG, mulberry32 (Tommy Ettinger's public-domain generator): the same seed gives
 * the same sequence on every platform. Returns a function giving floats in [0, 1) with 2^32
 * distinct values and period 2^32. For shuffles, stochastic rounding and test delays; not for
 * anything that needs cryptographic randomness.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
